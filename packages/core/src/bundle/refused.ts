import { UserError } from '../errors.js';

/** A bundle that is not unpacked, with the entry that decided it (when one did) and why. */
export class BundleRefused extends UserError {
  override name = 'BundleRefused';
  constructor(
    readonly entry: string | undefined,
    readonly reason: string,
  ) {
    super(
      entry === undefined ? `Bundle refused: ${reason}` : `Bundle refused: entry ${JSON.stringify(entry)} ${reason}`,
    );
  }
}
