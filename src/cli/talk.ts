import { readWavFile } from '../audio/wav.ts';
import { loadAgentFile, sharedMcpConnector } from '../config/agent-file.ts';
import { type LoadConfigOptions, loadConfig } from '../config/config.ts';
import { createProviders, NO_LLM_NOTICE } from '../config/providers.ts';
import { createConfiguredSession } from '../config/session.ts';
import { connectConfiguredTools } from '../config/tools.ts';
import { JsonLinesMetricsWriter } from '../metrics/jsonl.ts';
import { runFileConversation, writeConversationFiles } from '../transport/file/file-conversation.ts';
import { createLogger } from './log.ts';

export const FAST_REMOVED =
  'repartee talk: --fast is no longer supported (it was not faster and its timings were meaningless: the ' +
  'silence the VAD waits for and the reply play at speaking speed). Running in real time.\n';

export async function runTalk(
  args: string[],
  options: {
    out?: string;
    metrics?: string;
    fast?: boolean;
    /** An agent file (`defineAgent`) to talk to, instead of the configured instructions and tools. */
    agent?: string;
    configOptions: LoadConfigOptions;
  },
): Promise<number> {
  const log = createLogger();
  const [inputPath] = args;
  if (!inputPath) {
    process.stderr.write('usage: repartee talk IN.wav [--out reply.wav] [--metrics m.json]\n');
    return 1;
  }
  // Fed faster than real time, the VAD's silence wait, the reply's playout and the tail still run at speaking
  // speed (it was no faster), and every figure measured against a collapsed timeline (meaningless): dropped.
  if (options.fast) process.stderr.write(FAST_REMOVED);
  const config = await loadConfig(options.configOptions);
  const agentFile = options.agent ?? args[1];
  const agent = agentFile ? await loadAgentFile(agentFile) : undefined;
  const agentMcp = sharedMcpConnector((error, server) => log.warn({ server, err: error.message }, 'mcp'));
  const input = await readWavFile(inputPath);
  const providers = await createProviders(config, { log });
  const tools = await connectConfiguredTools(config, log);
  const metricsLog = config.metricsLog ? new JsonLinesMetricsWriter(config.metricsLog) : undefined;
  if (!providers.llmSpec) log.warn(NO_LLM_NOTICE);
  log.info({ vad: config.vad, ...providers.specs, llm: providers.llmSpec }, 'providers');
  const session = await createConfiguredSession(config, providers, metricsLog, tools ? [tools] : [], {
    agent,
    connectMcp: agentMcp.connect,
  });
  session.on('agentError', (e) => log.error({ agent: e.agent, hook: e.hook, err: e.error.message }, 'agent'));
  session.on('handoff', (e) => log.info({ from: e.from, to: e.to }, 'handoff'));
  session.on('transcript', (e) => e.final && log.info({ text: e.text }, 'user'));
  session.on('speechEnded', (e) => log.info({ outcome: e.outcome, text: e.heardText }, 'agent'));
  session.on('error', (e) => log.error({ source: e.source, err: e.error.message }, 'error'));
  const result = await runFileConversation(session, input, {
    pace: 'realtime',
  });
  await providers.close();
  await agentMcp.close();
  await tools?.close();
  await metricsLog?.close();
  const replyWav = options.out ?? 'reply.wav';
  await writeConversationFiles(result, { replyWav, metricsJson: options.metrics });
  for (const m of result.metrics) {
    log.info(
      {
        turn: m.turnId,
        voiceToVoiceMs: m.voiceToVoiceMs,
        eouDelayMs: m.eouDelayMs,
        llmTtftMs: m.llmTtftMs,
        ttsTtfbMs: m.ttsTtfbMs,
        ttsTtfaMs: m.ttsTtfaMs,
      },
      'turn',
    );
  }
  process.stdout.write(
    `wrote ${replyWav}${options.metrics ? ` and ${options.metrics}` : ''} (${result.metrics.length} turns)\n`,
  );
  return 0;
}
