import { type LoadConfigOptions, loadConfig } from '../config/config.ts';
import { createProviders, NO_LLM_NOTICE } from '../config/providers.ts';
import { createConfiguredSession } from '../config/session.ts';
import { connectConfiguredTools } from '../config/tools.ts';
import { JsonLinesMetricsWriter } from '../metrics/jsonl.ts';
import { startServer } from '../server/server.ts';
import { createLogger } from './log.ts';

export async function runServe(configOptions: LoadConfigOptions): Promise<number> {
  const log = createLogger();
  const config = await loadConfig(configOptions);
  const providers = await createProviders(config, { log });
  const tools = await connectConfiguredTools(config, log);
  const metricsLog = config.metricsLog ? new JsonLinesMetricsWriter(config.metricsLog) : undefined;
  if (!providers.llmSpec) log.warn(NO_LLM_NOTICE);
  const running = await startServer({
    host: config.server.host,
    port: config.server.port,
    token: config.server.token,
    webRoot: config.server.webRoot,
    webrtc: config.server.webrtc,
    websocket: config.server.websocket,
    createSession: async () => {
      const session = await createConfiguredSession(config, providers, metricsLog, tools ? [tools] : []);
      session.on('error', ({ source, error }) =>
        log.error({ session: session.id, source, err: error.message }, 'session error'),
      );
      session.on('metrics', (m) =>
        log.info({ session: m.sessionId, turn: m.turnId, voiceToVoiceMs: m.voiceToVoiceMs }, 'turn'),
      );
      if (!providers.llmSpec) {
        const off = session.on('state', ({ state }) => {
          if (state !== 'listening') return;
          off();
          void session.say(NO_LLM_NOTICE);
        });
      }
      return session;
    },
    onSessionError: (error) => log.error({ err: error.message }, 'session failed to start'),
  });
  const page = pageUrl(running.url, config.server.host, running.token);
  log.info(
    {
      url: page,
      websocket: `${running.url.replace('http', 'ws')}/ws`,
      webrtc: `${running.url}/rtc/offer`,
      ...providers.specs,
      llm: providers.llmSpec,
      tools: tools?.tools().map((tool) => tool.name),
    },
    'repartee serving',
  );
  if (running.token)
    log.info({ token: running.token }, 'clients must pass ?token=… (listening beyond loopback)');
  process.stdout.write(`\nRepartee is listening. Open ${page} and click "Start talking".\n`);
  if (running.token) {
    process.stdout.write(
      `Token (needed beyond loopback; the link above carries it): ${running.token}\n` +
        'Browsers allow the microphone only on https:// or localhost: from another machine, put TLS in front.\n',
    );
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await running.close();
  await tools?.close();
  await providers.close();
  await metricsLog?.close();
  return 0;
}

/** The page to open: a wildcard listen address is reached through localhost; the token rides along. */
export function pageUrl(serverUrl: string, host: string, token: string | undefined): string {
  const url = new URL(serverUrl);
  if (host === '0.0.0.0' || host === '::') url.hostname = 'localhost';
  url.pathname = '/';
  if (token) url.searchParams.set('token', token);
  return url.href;
}
