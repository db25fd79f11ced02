import type { TurnMetrics } from '../../metrics/schema.ts';
import { buildTurnMetrics } from '../../metrics/turn.ts';

/**
 * A complete turn record for store, dashboard and experiment tests, built by the real record builder (so it
 * follows the schema): the user stopped at `turnId` seconds; `voiceToVoiceMs` as given (null: no reply heard).
 */
export function sampleTurn(
  sessionId: string,
  turnId: number,
  voiceToVoiceMs: number | null,
  outcome: TurnMetrics['outcome'] = 'completed',
): TurnMetrics {
  const eou = turnId * 1000;
  const heard = voiceToVoiceMs === null ? undefined : eou + voiceToVoiceMs;
  return buildTurnMetrics({
    sessionId,
    turnId,
    speechId: turnId,
    marks: {
      endOfUserSpeechAt: eou,
      finalTranscriptAt: eou + 200,
      committedAt: eou + 300,
      llmRequestAt: eou + 300,
      llmFirstTokenAt: eou + 450,
      firstSentenceAt: eou + 470,
      ttsFirstTextAt: eou + 470,
      ttsFirstAudioAt: eou + 550,
      firstFrameSentAt: eou + 555,
      ...(heard === undefined ? {} : { firstPlayedAt: heard }),
    },
    usage: {
      promptTokens: 100,
      completionTokens: 12,
      cachedTokens: 0,
      ttsCharacters: 40,
      sttAudioMs: 2000,
      toolMs: null,
    },
    outcome,
    preemptive: 'none',
    userTranscript: `question ${turnId}`,
    agentText: `answer ${turnId}`,
    providers: { llmProvider: 'scripted', ttsProvider: 'flite', fallbacks: 0 },
  });
}
