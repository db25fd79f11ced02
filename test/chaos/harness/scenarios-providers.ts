/**
 * Scenarios of a failing LLM provider: clients whose requests the fault LLM refuses, answers with 500 or 429,
 * hangs after the headers, drops mid-stream or answers with malformed SSE. Only their sessions see the fault;
 * what each of them heard or was told is reported, and the canary shows whether the fault spread.
 */

import { openClient, sleep, within } from './clients.ts';
import { faultMarker, LLM_FAULTS, type LlmFault } from './fault-llm.ts';
import type { Scenario } from './scenario.ts';

/** How long a faulted client waits for the server's answer (an apology, an error) before hanging up. */
const ANSWER_WAIT_MS = 15_000;

async function faultedSession(url: string, fault: LlmFault): Promise<string> {
  const client = openClient(url);
  const ready = await within(
    client.ready.then(() => true),
    20_000,
    false,
  );
  if (!ready) return `${fault}: no ready`;
  const t0 = performance.now();
  client.ws.send(JSON.stringify({ type: 'text', text: `Please answer ${faultMarker(fault)} now.` }));
  // Whatever comes first: agent audio (an apology, or words streamed before a drop) or an error message.
  const told = new Promise<string>((resolve) => {
    void client.firstAudio.then(() => resolve('audio'));
    const check = setInterval(() => {
      const error = client.messages.find((m) => m.type === 'error');
      const ended = client.messages.find((m) => m.type === 'speechEnded');
      if (error) resolve(`error "${String(error.message).slice(0, 60)}"`);
      else if (ended) resolve(`speechEnded ${String(ended.outcome)}`);
    }, 50);
    void client.closed.then(() => resolve('closed'));
    setTimeout(() => clearInterval(check), ANSWER_WAIT_MS + 100);
  });
  const first = await within(told, ANSWER_WAIT_MS, 'nothing');
  const ms = Math.round(performance.now() - t0);
  // Give the session a moment to say more (an apology after an error message), then hang up.
  await sleep(500);
  const audioMs = Math.round((client.audioBytes / 2 / 16_000) * 1000);
  client.ws.close();
  await within(client.closed, 5_000, undefined);
  return `${fault}: ${first} after ${ms} ms, ${audioMs} ms audio`;
}

export const llmFaults: Scenario = {
  name: 'LLM provider faults',
  what: 'sessions whose LLM refuses, 500s, 429s, hangs after headers, drops mid-stream or sends malformed SSE',
  async run(ctx) {
    const rounds = ctx.form === 'full' ? 2 : 1;
    const answers: string[] = [];
    for (let round = 0; round < rounds; round++) {
      // All six at once: a provider outage hits many sessions together.
      const results = await Promise.all(LLM_FAULTS.map((fault) => faultedSession(ctx.server.wsUrl, fault)));
      if (round === 0) answers.push(...results);
    }
    const openStreams = ctx.llm.openStreams;
    return {
      sessions: LLM_FAULTS.length * rounds,
      'what each faulted client got': answers.join('; '),
      'LLM streams still open after hang-up': openStreams,
    };
  },
};
