import type { DnsForwarder } from './dns-forwarder.js';
import type { MonitorConfig } from './monitor-config.js';
import type { Recorder } from './recorder.js';

/**
 * The monitor's DNS forwarder, when its config asks for one; a failure to listen is an error of the monitor. Loaded
 * only then (with its DNS wire format library it is about a third of the monitor's code, which every start of the
 * monitor would otherwise load).
 */
export async function startDnsForwarder(config: MonitorConfig, recorder: Recorder): Promise<DnsForwarder | undefined> {
  if (!config.dns) return undefined;
  const { addresses, ...forwarderConfig } = config.dns;
  try {
    const { startForwarder } = await import('./dns-forwarder.js');
    const forwarder = await startForwarder(forwarderConfig, addresses, config.privilege, () => (recorder.dirty = true));
    recorder.snapshot.dns = forwarder.record;
    return forwarder;
  } catch (error) {
    recorder.error((error as Error).message);
    return undefined;
  }
}
