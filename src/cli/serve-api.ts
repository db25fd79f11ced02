import type { Agent } from '../agent/definition.ts';
import { runServe } from './serve.ts';

export interface ServeOptions {
  /**
   * Configuration as in `repartee.config.json` (`llm`, `tts`, `server: { port }`, …), over the file and the
   * `REPARTEE_*` environment: providers come from configuration, never from the agent.
   */
  config?: Record<string, unknown>;
  /** A configuration file (default: ./repartee.config.json when it exists). */
  configFile?: string;
}

export interface RunningAgentServer {
  /** Where the talk page is, e.g. http://127.0.0.1:8080 */
  url: string;
  /** The token clients need beyond loopback (generated when not configured). */
  token?: string;
  /** Stops accepting sessions, ends the running ones and releases the providers. */
  close(): Promise<void>;
}

/**
 * Serves an agent (or an agent file) as `repartee serve ./agent.ts` does: the talk page, WebSocket and WebRTC,
 * every session running the agent on the configured providers. Resolves once it listens.
 */
export async function serve(agent: Agent | string, options: ServeOptions = {}): Promise<RunningAgentServer> {
  let stop!: () => void;
  const until = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let ready!: (server: RunningAgentServer) => void;
  const listening = new Promise<RunningAgentServer>((resolve) => {
    ready = resolve;
  });
  const done = runServe(
    { file: options.configFile, fileRequired: options.configFile !== undefined, overrides: options.config },
    {
      ...(typeof agent === 'string' ? { agentFile: agent } : { agent }),
      until,
      started: async (running) => {
        ready({
          url: running.url,
          token: running.token,
          close: async () => {
            stop();
            await done;
          },
        });
      },
    },
  );
  return Promise.race([listening, done.then(() => Promise.reject(new Error('the server stopped at start')))]);
}
