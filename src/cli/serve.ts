import { type LoadConfigOptions, loadConfig } from '../config/config.ts';
import { createProviders, NO_LLM_NOTICE } from '../config/providers.ts';
import { createConfiguredSession } from '../config/session.ts';
import { JsonLinesMetricsWriter } from '../metrics/jsonl.ts';
import { startServer } from '../server/server.ts';
import { createLogger } from './log.ts';

export async function runServe(configOptions: LoadConfigOptions): Promise<number> {
  const log = createLogger();
  const config = await loadConfig(configOptions);
  const providers = await createProviders(config);
  const metricsLog = config.metricsLog ? new JsonLinesMetricsWriter(config.metricsLog) : undefined;
  if (!providers.llmSpec) log.warn(NO_LLM_NOTICE);
  const running = await startServer({
    host: config.server.host,
    port: config.server.port,
    token: config.server.token,
    createSession: async () => {
      const session = await createConfiguredSession(config, providers, metricsLog);
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
  log.info(
    {
      url: running.url,
      websocket: `${running.url.replace('http', 'ws')}/ws`,
      llm: providers.llmSpec,
      tts: config.tts,
    },
    'repartee serving',
  );
  if (running.token)
    log.info({ token: running.token }, 'clients must pass ?token=… (listening beyond loopback)');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await running.close();
  await providers.close();
  await metricsLog?.close();
  return 0;
}
