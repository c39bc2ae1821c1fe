/**
 * A failure the user can fix: bad input, a missing resource, a wrong setting.
 * Its message is shown as is (no stack), so it must name the thing and the fix.
 * Anything else that is thrown is treated as a bug and reported with context.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * A user error about one argument of a core operation, named in core's own terms (`releaseDir`, `release`): core
 * does not know which action input a value came from, so the action's declaration maps the argument to its input
 * and the envelope prefixes `Input "<name>": ` (see action-kit's `defineAction`, `argumentInputs`).
 */
export class ArgumentError extends UserError {
  override name = 'ArgumentError';
  constructor(
    readonly argument: string,
    readonly problem: string,
  ) {
    super(problem);
  }
}
