/** A real Node-RED started the way `npm start` starts it, in a temporary user directory on a free port. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './servers';
import { tempDir } from './stores';

export interface RunningNodeRed {
  base: string;
  stop(): void;
}

const root = path.resolve(__dirname, '..', '..');

/** `settings`: source of a settings module merged over npm start's (FLOWIPAM_SETTINGS), e.g. with adminAuth. */
export async function startNodeRed(options: { settings?: string } = {}): Promise<RunningNodeRed> {
  const port = await freePort();
  const userDir = tempDir('flowipam-red-');
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), FLOWIPAM_USER_DIR: userDir };
  if (options.settings) {
    env.FLOWIPAM_SETTINGS = path.join(userDir, 'extra-settings.js');
    fs.writeFileSync(env.FLOWIPAM_SETTINGS, options.settings);
  }
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'scripts', 'start.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`Node-RED did not start:\n${output}`)), 45000);
    child.stdout!.on('data', (chunk) => {
      output += String(chunk);
      if (output.includes('Started flows') && output.includes('FlowIPAM editor:')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk) => (output += String(chunk)));
    child.on('exit', (code) => reject(new Error(`Node-RED exited with ${code}:\n${output}`)));
  });
  return { base: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}
