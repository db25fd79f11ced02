import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config.ts';
import { runModels } from './models.ts';
import { runServe } from './serve.ts';
import { runTalk } from './talk.ts';
import { runWorker, runWorkers } from './worker.ts';

const USAGE = `repartee — a real-time voice AI agent

Usage:
  repartee serve [--host H] [--port P] [--config F]     start the voice agent server (embedded local stack by default)
  repartee serve --workers N --redis URL                N worker processes on ports P+1..P+N behind HAProxy on P
  repartee worker --redis URL [--agent-port A] [--worker-id ID] [--advertise-url U]
                                                        one worker of a cluster (serve + Redis registry, stored and
                                                        resumable conversations, HAProxy agent-check, drain on SIGTERM)
  repartee serve ./my-agent.ts [options]                serve an agent file (export default defineAgent({...}));
                                                        providers still come from config and flags
  repartee talk IN.wav [--out reply.wav] [--metrics m.json] [--config F] [--agent ./my-agent.ts]
                                                        one conversation from a WAV file in real time, reply
                                                        written to a WAV on the same timeline
  repartee models list [--models-dir D]                 recommended local models, sizes, which are downloaded
  repartee models pull [NAME] [--models-dir D]          download a recommended model (default: the recommended one)

  --models-dir D   where GGUF models are kept and looked for (default ./models; REPARTEE_MODELS_DIR). serve and
                   talk use the first .gguf found there when no --llm is given
  --config F       a JSON configuration file (default: ./repartee.config.json when it exists)

Provider options (also in repartee.config.json or REPARTEE_* variables):
  --llm SPEC   llama:./models/x.gguf | openai-compatible:<baseURL>#<model> | openai:<model>
  --tts SPEC   local | flite[:voice] | espeak-ng[:voice] | festival[:voice] | openai[:model[:voice]]
               | elevenlabs[:voice_id[:model_id]]
  --stt SPEC   local | pocketsphinx[:accurate] | deepgram[:model] | openai-realtime[:model] | openai:<model>
  --vad SPEC   silero | energy
  A comma-separated list is a fallback order, e.g. --llm "openai:gpt-4o-mini,llama:./models/x.gguf".
  With OPENAI_API_KEY, DEEPGRAM_API_KEY or ELEVENLABS_API_KEY set and no spec given, those providers are used,
  with the embedded stack as fallback.
  --docs DIR   let the agent list, read, search, edit and analyze the documents in DIR (bundled MCP server)

Server options (serve):
  --allowed-hosts LIST   public host names clients use, comma-separated (loopback names are always allowed)
  --max-sessions N       sessions at once in this process (default: from measured per-session memory)
  Beyond loopback clients need the token (REPARTEE_TOKEN, at least 16 characters, e.g. openssl rand -hex 32).
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      config: { type: 'string' },
      out: { type: 'string' },
      metrics: { type: 'string' },
      fast: { type: 'boolean' },
      host: { type: 'string' },
      port: { type: 'string' },
      llm: { type: 'string' },
      tts: { type: 'string' },
      stt: { type: 'string' },
      vad: { type: 'string' },
      'models-dir': { type: 'string' },
      docs: { type: 'string' },
      'allowed-hosts': { type: 'string' },
      'max-sessions': { type: 'string' },
      workers: { type: 'string' },
      redis: { type: 'string' },
      'worker-id': { type: 'string' },
      'agent-port': { type: 'string' },
      'advertise-url': { type: 'string' },
      agent: { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 1;
  }
  const specList = (value: string | undefined) =>
    value?.includes(',') ? value.split(',').map((part) => part.trim()) : value;
  const overrides = {
    llm: specList(values.llm),
    tts: specList(values.tts),
    stt: specList(values.stt),
    docsRoot: values.docs,
    vad: values.vad,
    modelsDir: values['models-dir'],
    server: {
      ...(values.host ? { host: values.host } : {}),
      ...(values.port ? { port: Number(values.port) } : {}),
      ...(values['allowed-hosts']
        ? {
            allowedHosts: values['allowed-hosts']
              .split(',')
              .map((h) => h.trim())
              .filter(Boolean),
          }
        : {}),
      ...(values['max-sessions'] ? { maxSessions: Number(values['max-sessions']) } : {}),
    },
  };
  const configOptions = { file: values.config, fileRequired: values.config !== undefined, overrides };
  switch (command) {
    case 'talk':
      return runTalk(rest, { ...values, configOptions });
    case 'serve':
      if (values.workers !== undefined)
        return runWorkers(
          argv,
          Number(values.workers),
          Number(values.port ?? 8080),
          values.host ?? '127.0.0.1',
        );
      return runServe(configOptions, { agentFile: values.agent ?? rest[0] });
    case 'worker':
      return runWorker(configOptions, {
        redis: values.redis,
        workerId: values['worker-id'],
        agentPort: values['agent-port'] === undefined ? undefined : Number(values['agent-port']),
        advertiseUrl: values['advertise-url'],
      });
    case 'models':
      return runModels(rest, { modelsDir: values['models-dir'] });
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    const known = error instanceof ConfigError || error?.name?.endsWith('Error');
    process.stderr.write(`repartee: ${known ? error.message : (error?.stack ?? String(error))}\n`);
    process.exitCode = 1;
  },
);
