import type { Agent } from '../agent/definition.ts';
import { loadAgentFile, sharedMcpConnector } from '../config/agent-file.ts';
import { type LoadConfigOptions, loadConfig } from '../config/config.ts';
import { createProviders, NO_LLM_NOTICE } from '../config/providers.ts';
import { createConfiguredSession } from '../config/session.ts';
import { telephonyServerOptions } from '../config/telephony.ts';
import { connectConfiguredTools } from '../config/tools.ts';
import { JsonLinesMetricsWriter } from '../metrics/jsonl.ts';
import {
  CLOUD_SESSION_BYTES,
  defaultMaxSessions,
  LOCAL_DECODER_POOL_BYTES,
  LOCAL_SESSION_BYTES,
} from '../server/admission.ts';
import { Observability } from '../server/dashboard-setup.ts';
import { ModelSetup } from '../server/model-setup.ts';
import { type RunningServer, type ServerOptions, startServer } from '../server/server.ts';
import { assertStrongToken } from '../server/token.ts';
import { createLogger } from './log.ts';

/** What `repartee worker` adds to serve (cli/worker.ts): the cluster's session wrapper, health, drain. */
export interface ServeHooks {
  wrapCreateSession?(create: ServerOptions['createSession']): ServerOptions['createSession'];
  healthExtra?: ServerOptions['healthExtra'];
  started?(running: RunningServer, log: ReturnType<typeof createLogger>): Promise<void>;
  /** On SIGTERM/SIGINT, before the server closes: a worker drains here. */
  stopping?(running: RunningServer): Promise<void>;
  /** The agent every session runs (`repartee serve ./agent.ts` loads `agentFile`); default: the configured one. */
  agent?: Agent;
  agentFile?: string;
  /** Stops the server when it resolves, as SIGTERM does (the library's `serve()`). */
  until?: Promise<void>;
}

/** A caller's number as a user id, `+` and digits: a number only ("anonymous", "unknown", a SIP URI: no user). */
function callerUserId(caller: string | undefined): string | undefined {
  const number = caller?.replace(/[\s().-]/g, '');
  if (!number || !/^\+?\d{6,15}$/.test(number)) return undefined;
  // One user whichever provider carried the call (Vonage sends E.164 without its +).
  return number.startsWith('+') ? number : `+${number}`;
}

export async function runServe(configOptions: LoadConfigOptions, hooks: ServeHooks = {}): Promise<number> {
  const log = createLogger();
  const config = await loadConfig(configOptions);
  // A broken agent file is a start-up error too, named before anything slow is loaded.
  const agent = hooks.agent ?? (hooks.agentFile ? await loadAgentFile(hooks.agentFile) : undefined);
  const agentMcp = sharedMcpConnector((error, server) =>
    log.warn({ agent: agent?.name, server, err: error.message }, 'agent mcp server problem'),
  );
  // A weak token is a start-up error, before anything slow is loaded.
  if (config.server.token !== undefined) assertStrongToken(config.server.token);
  const providers = await createProviders(config, { log });
  const tools = await connectConfiguredTools(config, log);
  // MCP servers waiting for the user to authorise them: the talk page shows their links.
  const authorizations = tools
    ? { pending: () => tools.pendingAuthorizations(), subscribe: tools.onAuthorization.bind(tools) }
    : undefined;
  const metricsLog = config.metricsLog ? new JsonLinesMetricsWriter(config.metricsLog) : undefined;
  if (!providers.llmSpec) log.warn(NO_LLM_NOTICE);
  // The store, /dashboard, alerts, experiments and traces (each off or quiet when not configured).
  const observability = new Observability(config, log);
  const server = config.server;
  // The local stack keeps a pool of in-process speech decoders on top of its sessions; a cloud stack does not.
  const localStt = (providers.specs?.stt ?? ['local']).some((spec) => /^(local|pocketsphinx)\b/.test(spec));
  const maxSessions =
    server.maxSessions ??
    defaultMaxSessions(
      localStt
        ? { perSessionBytes: LOCAL_SESSION_BYTES, reservedBytes: LOCAL_DECODER_POOL_BYTES }
        : { perSessionBytes: CLOUD_SESSION_BYTES },
    );
  const running = await startServer({
    host: server.host,
    port: server.port,
    token: server.token,
    allowedHosts: server.allowedHosts,
    admission: {
      maxSessions,
      maxSessionsPerClient: server.maxSessionsPerClient,
      limitLoopbackClients: server.limitLoopbackClients,
      trustedProxies: server.trustedProxies,
      retryAfterSeconds: server.retryAfterSeconds,
    },
    loopLag: server.eventLoop,
    onEventLoopLag: ({ lagMs, running }) =>
      log.warn({ lagMs, running }, 'event loop blocked: every session waited this long'),
    webRoot: config.server.webRoot,
    setup: new ModelSetup({ llmSpec: providers.llmSpec, notice: NO_LLM_NOTICE, modelsDir: config.modelsDir }),
    // A client the server drops (flooding, not reading, no heartbeat) is logged with the reason it was given.
    webrtc: {
      ...config.server.webrtc,
      onDropped: (drop) => log.warn({ ...drop, transport: 'webrtc' }, 'client dropped'),
      authorizations,
    },
    websocket: {
      ...config.server.websocket,
      onDropped: (drop) => log.warn({ ...drop, transport: 'websocket' }, 'client dropped'),
      authorizations,
    },
    healthExtra: hooks.healthExtra,
    dashboard: observability.serverHooks,
    // Phone calls: a call's session also gets the call-control tools (hang up, transfer, keypad).
    telephony: telephonyServerOptions(
      config.telephony,
      process.env,
      async (call, control) => {
        const { config: sessionConfig, assignment } = observability.sessionConfig();
        const callTools = [...(tools ? [tools] : []), ...control.tools()];
        const session = await createConfiguredSession(
          sessionConfig,
          providers,
          metricsLog,
          callTools,
          { agent, connectMcp: agentMcp.connect },
          // The caller's number is the user for memory across conversations (docs/memory.md).
          { store: observability.store, userId: callerUserId(call.caller) },
        );
        observability.created(session, assignment);
        session.on('error', ({ source, error }) =>
          log.error({ session: session.id, call: call.callId, source, err: error.message }, 'session error'),
        );
        return session;
      },
      (entry) => {
        const fields = { provider: entry.provider, call: entry.callId };
        if (entry.level === 'warn') log.warn(fields, entry.message);
        else log.info(fields, entry.message);
      },
    ),
    createSession: (hooks.wrapCreateSession ?? ((create) => create))(async (request) => {
      // An A/B experiment's variant changes this session's settings; the assignment is stored with it.
      const { config: sessionConfig, assignment } = observability.sessionConfig();
      const session = await createConfiguredSession(
        sessionConfig,
        providers,
        metricsLog,
        tools ? [tools] : [],
        {
          agent,
          connectMcp: agentMcp.connect,
        },
        // The user the request named: memory across conversations, when `memory.enabled` (docs/memory.md).
        { store: observability.store, userId: request.userId },
      );
      observability.created(session, assignment);
      session.on('error', ({ source, error }) =>
        log.error({ session: session.id, source, err: error.message }, 'session error'),
      );
      session.on('agentError', ({ agent: name, hook, error }) =>
        log.error({ session: session.id, agent: name, hook, err: error.message }, 'agent error'),
      );
      session.on('handoff', ({ from, to }) => log.info({ session: session.id, from, to }, 'handoff'));
      session.on('metrics', (m) =>
        log.info({ session: m.sessionId, turn: m.turnId, voiceToVoiceMs: m.voiceToVoiceMs }, 'turn'),
      );
      return session;
    }),
    onSessionError: (error) => log.error({ err: error.message }, 'session failed to start'),
  });
  observability.watchLoopLag(() => running.health().eventLoopLagMs);
  const page = pageUrl(running.url, config.server.host, running.token);
  log.info(
    {
      // The log never carries the token: the page without it, and the token's fingerprint.
      url: pageUrl(running.url, config.server.host, undefined),
      tokenFingerprint: running.tokenFingerprint,
      maxSessions,
      websocket: `${running.url.replace('http', 'ws')}/ws`,
      webrtc: `${running.url}/rtc/offer`,
      ...providers.specs,
      llm: providers.llmSpec,
      tools: tools?.tools().map((tool) => tool.name),
      ...(agent ? { agent: agent.name, agentTools: agent.tools.map((tool) => tool.name) } : {}),
    },
    'repartee serving',
  );
  if (running.token) {
    log.info(
      { tokenFingerprint: running.tokenFingerprint },
      'clients must pass ?token=… or Authorization: Bearer … (listening beyond loopback)',
    );
  }
  // A configured token is the operator's own: it is not echoed. A generated one is shown once, on stdout (not
  // the log), because nobody could connect without it.
  const generated = running.token !== undefined && server.token === undefined;
  const shown = generated ? page : pageUrl(running.url, config.server.host, undefined);
  process.stdout.write(`\nRepartee is listening. Open ${shown} and click "Start talking".\n`);
  if (running.token) {
    process.stdout.write(
      (generated
        ? `Generated token (needed beyond loopback; the link above carries it): ${running.token}\n`
        : `Add ?token=<your configured token> (fingerprint ${running.tokenFingerprint}) to the link.\n`) +
        'Browsers allow the microphone only on https:// or localhost: from another machine, put TLS in front ' +
        'and list its name in server.allowedHosts.\n',
    );
  }
  await hooks.started?.(running, log);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    hooks.until?.then(stop, stop);
  });
  await hooks.stopping?.(running);
  await running.close();
  await observability.close();
  await agentMcp.close();
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
