import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/** Whether a tool is installed (on the PATH, or where sudo's secure_path finds it): no process started. */
export function onPath(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  return dirs.some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
