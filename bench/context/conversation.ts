/**
 * A deterministic spoken conversation for the context benchmark: short user questions and canned assistant
 * replies of voice-agent length. Replies are fixed texts rather than the model's output so that both runs (with
 * and without the policy) see the same history, and because the random-weight 0.5B-shaped model writes filler
 * tokens that do not survive a round trip through text.
 */
const TOPICS = [
  'the weather in Lisbon',
  'a good pasta recipe',
  'how tides work',
  'the train to Porto',
  'a birthday present for my sister',
  'why the sky is blue',
  'a short poem about cats',
  'how to fix a flat tyre',
  'the best time to plant tomatoes',
  'a joke about penguins',
  'how far away the moon is',
  'learning to play the guitar',
];

export const SYSTEM_PROMPT =
  'You are Repartee, a friendly voice assistant. Answer in one or two short spoken sentences. Do not use lists, ' +
  'markdown or emoji, because everything you write is read aloud.';

export function userTurn(turn: number): string {
  if (turn === 3) return "Please remember that my sister's name is Zoe and that she lives in Lisbon.";
  return `Can you tell me something about ${TOPICS[turn % TOPICS.length]}? Keep it short, please.`;
}

export function assistantTurn(turn: number): string {
  if (turn === 3) return 'Of course, I will remember that your sister Zoe lives in Lisbon.';
  const topic = TOPICS[turn % TOPICS.length];
  return `Here is a short answer about ${topic}: it is a lovely thing to ask about, and I can say more if you like.`;
}
