export {
  finishDeployment,
  liveDeployment,
  recordRollback,
  releaseSha8,
  startDeployment,
  type LiveDeployment,
  type RecordPlace,
  type StartedDeployment,
} from './record.js';
