import { join } from 'node:path';

/** The names of what main saves for its post step (the runner hands it back as STATE_<name> variables). */
export const STATE = 'egress-sentinel';
/** The stop secret: saved for the post step only (the runner keeps it; later steps cannot read it), masked. */
export const SECRET = 'egress-sentinel-secret';
/** The stop token (the HMAC of the secret a stop request carries, see core's control.ts): saved beside the secret,
 * so that the post step's entry sends the stop without loading node:crypto. */
export const TOKEN = 'egress-sentinel-stop-token';
/** `stop` when this use of the action only stopped (`stop: true`): its post step then has nothing to do. */
export const ROLE = 'egress-sentinel-role';
/** The envelope's own record of the phase that ran (see action-kit's define.ts): `main` once main has run. */
export const PHASE = 'deploy-gates-phase';

/** The sentinel's part of the runner's temporary directory. */
export const sentinelTempDir = (runnerTemp: string) => join(runnerTemp, 'deploy-gates');
