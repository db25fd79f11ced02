import { describe, expect, it } from 'vitest';
import { AgentSession } from '../../agent/session.ts';
import { rmsDbfs } from '../../audio/level.ts';
import { tiktokenCounter } from '../../context/tokens.ts';
import { MonotonicClock } from '../../metrics/clock.ts';
import { ScriptedLlm } from '../../providers/llm/scripted.ts';
import { ScriptedStt, wordsBetween } from '../../providers/stt/scripted.ts';
import { ScriptedTts } from '../../providers/tts/scripted.ts';
import { ScriptedVad } from '../../providers/vad/scripted.ts';
import { runFileConversation } from './file-conversation.ts';

describe('file transport', () => {
  it('feeds a WAV in real time and records the reply on the conversation timeline', async () => {
    // The scripted VAD's times are absolute: build the process-wide tokenizer first so start() is quick.
    await tiktokenCounter('cl100k_base');
    const clock = new MonotonicClock();
    const t0 = clock.now();
    // Times are on the session clock: the file starts playing at about t0.
    const session = new AgentSession({
      clock,
      vad: new ScriptedVad({ speech: [{ startMs: t0 + 100, endMs: t0 + 400 }], minSilenceMs: 100 }),
      stt: new ScriptedStt({ clock, words: wordsBetween('Hello agent.', t0 + 100, t0 + 400) }),
      llm: new ScriptedLlm({ clock, reply: () => 'Hi there.' }),
      tts: new ScriptedTts({ clock, ttfbMs: 10 }),
      endpointing: { minDelayMs: 100 },
    });
    const input = { samples: new Int16Array(16000 * 0.6), sampleRate: 16000 };
    const result = await runFileConversation(session, input, { idleTailMs: 200 });
    expect(result.metrics).toHaveLength(1);
    expect(result.metrics[0]).toMatchObject({ outcome: 'completed', agentText: 'Hi there.' });
    expect(result.metrics[0].voiceToVoiceMs).toBeGreaterThan(100);
    const replyMs = (result.reply.samples.length * 1000) / result.reply.sampleRate;
    expect(replyMs).toBeGreaterThan(500 + 9 * 60);
    // Silence before the reply, speech after.
    expect(rmsDbfs(result.reply.samples.subarray(0, 1600))).toBe(Number.NEGATIVE_INFINITY);
    expect(rmsDbfs(result.reply.samples.subarray(-3200))).toBeGreaterThan(-40);
  });
});
