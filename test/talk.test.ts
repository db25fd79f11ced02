import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { rmsDbfs } from '../src/audio/level.ts';
import { readWavFile } from '../src/audio/wav.ts';
import { TURN_METRIC_FIELDS } from '../src/metrics/schema.ts';

const run = promisify(execFile);
const CLIP = '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav';
const MODEL = 'test/fixtures/models/stories260K.gguf';

describe('repartee talk (embedded local stack)', () => {
  it('answers a LibriVox clip with non-silent speech and writes every per-turn metric', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repartee-talk-'));
    const out = join(dir, 'reply.wav');
    const metricsPath = join(dir, 'm.json');
    const { stdout } = await run(
      './bin/repartee',
      ['talk', CLIP, '--out', out, '--metrics', metricsPath, '--llm', `llama:${MODEL}`],
      {
        env: { ...process.env, REPARTEE_LLM_MAX_TOKENS: '24', REPARTEE_LOG_LEVEL: 'warn' },
        timeout: 90_000,
      },
    );
    expect(stdout).toMatch(/wrote .*reply\.wav/);
    const reply = await readWavFile(out);
    const speech = reply.samples.subarray(Math.floor(reply.samples.length / 2));
    expect(rmsDbfs(reply.samples)).toBeGreaterThan(-50);
    expect(speech.length).toBeGreaterThan(0);
    const metrics = JSON.parse(await readFile(metricsPath, 'utf8'));
    expect(metrics.length).toBeGreaterThanOrEqual(1);
    const [turn] = metrics;
    for (const field of TURN_METRIC_FIELDS) expect(turn).toHaveProperty(field);
    expect(turn.userTranscript.split(' ').length).toBeGreaterThan(3);
    expect(turn.agentText.length).toBeGreaterThan(0);
    expect(turn.voiceToVoiceMs).toBeGreaterThan(0);
    expect(turn.llmTtftMs).toBeGreaterThan(0);
    expect(turn.ttsTtfbMs).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it('with no LLM configured it still runs, says how to configure one, and never pretends to answer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repartee-talk-'));
    const out = join(dir, 'reply.wav');
    const metricsPath = join(dir, 'm.json');
    const { stderr } = await run(
      './bin/repartee',
      ['talk', CLIP, '--out', out, '--metrics', metricsPath, '--models-dir', dir],
      {
        env: { ...process.env, REPARTEE_LLM: '', REPARTEE_LOG_LEVEL: 'info' },
        timeout: 90_000,
      },
    );
    expect(stderr).toMatch(/No language model is configured/);
    const reply = await readWavFile(out);
    expect(rmsDbfs(reply.samples)).toBeGreaterThan(-50); // the spoken notice
    const metrics = JSON.parse(await readFile(metricsPath, 'utf8'));
    // A turn is answered by the notice, said in full (one said over the notice is answered by it): no error.
    for (const turn of metrics) {
      expect(turn.outcome).toBe('completed');
      expect(turn.agentText).toMatch(/^No language model is configured/);
    }
  }, 120_000);
});
