import type { ForgetCommand } from '../../src/context/memory-rules.ts';

/**
 * Labelled utterances for the memory rules (bench:memory). `dev`: the phrases the rules were written against
 * (the unit tests' own). `heldOut`: written after the rules were fixed and never used to change them; its
 * figure is the one to quote.
 */
export interface ForgetCase {
  text: string;
  expected: ForgetCommand['scope'] | 'none';
}
export interface FactCase {
  text: string;
  fact: boolean;
}

export const FORGET_DEV: ForgetCase[] = [
  { text: 'Forget that.', expected: 'last' },
  { text: 'Okay, please forget that', expected: 'last' },
  { text: 'Can you forget what I just said?', expected: 'last' },
  { text: 'forget it', expected: 'last' },
  { text: 'Forget what I told you about my budget.', expected: 'about' },
  { text: 'Please forget everything I said about the kitchen', expected: 'about' },
  { text: 'forget about my address', expected: 'about' },
  { text: 'Forget that I live in Lyon.', expected: 'about' },
  { text: 'Forget my phone number', expected: 'about' },
  { text: 'Forget everything about me.', expected: 'all' },
  { text: 'forget everything', expected: 'all' },
  { text: 'Thanks. Now forget all you know about me!', expected: 'all' },
  { text: 'Delete everything you know about me.', expected: 'all' },
  { text: "Don't forget that.", expected: 'none' },
  { text: "Please don't forget that my budget is 40 thousand euros.", expected: 'none' },
  { text: 'Never forget it.', expected: 'none' },
  { text: 'Do not forget about my appointment.', expected: 'none' },
  { text: 'I always forget that the shop closes at six.', expected: 'none' },
  { text: 'I forgot that.', expected: 'none' },
  { text: 'Forgetting things is normal.', expected: 'none' },
  { text: 'Delete that email.', expected: 'none' },
  { text: 'What did I tell you to forget?', expected: 'none' },
];

export const FORGET_HELD_OUT: ForgetCase[] = [
  { text: 'Actually, forget that, it was wrong.', expected: 'last' },
  { text: 'Hmm, just forget it.', expected: 'last' },
  { text: 'Could you forget the last thing I told you?', expected: 'last' },
  { text: 'Forget what I said about my sister.', expected: 'about' },
  { text: 'Please forget my address, I moved.', expected: 'about' },
  { text: 'Forget anything I mentioned about the surgery.', expected: 'about' },
  { text: 'I want you to forget everything you know about me.', expected: 'all' },
  { text: 'Erase everything about me please.', expected: 'all' },
  { text: 'Forget all of that, start over.', expected: 'last' },
  { text: 'Wipe all you remember about me.', expected: 'all' },
  { text: 'Remember to not forget that.', expected: 'none' },
  { text: "Let's not forget the deadline.", expected: 'none' },
  { text: 'You can forget about it, it does not matter', expected: 'last' },
  { text: 'Sometimes I forget my keys.', expected: 'none' },
  { text: "Don't you dare forget my birthday.", expected: 'none' },
  { text: 'How do I make you forget something?', expected: 'none' },
  { text: 'Forget-me-nots are blue.', expected: 'none' },
  { text: 'Did you forget that I called yesterday?', expected: 'none' },
];

export const FACT_DEV: FactCase[] = [
  { text: 'My budget is 40 thousand euros.', fact: true },
  { text: 'I live in Lyon!', fact: true },
  { text: "I'm a vegetarian.", fact: true },
  { text: 'I like jazz.', fact: true },
  { text: "My daughter's name is Ana and our flat is on the third floor", fact: true },
  { text: 'Hi there.', fact: false },
  { text: 'Is it raining?', fact: false },
  { text: 'What is my budget?', fact: false },
  { text: 'Can you book a table.', fact: false },
  { text: "I'm not sure.", fact: false },
  { text: 'Forget that my budget is 5 euros.', fact: false },
  { text: 'Do I have an appointment?', fact: false },
  { text: 'The weather is nice.', fact: false },
];

export const FACT_HELD_OUT: FactCase[] = [
  { text: 'My flight leaves on the twelfth of March.', fact: true },
  { text: 'I work as a nurse at the city hospital.', fact: true },
  { text: "I'm allergic to peanuts.", fact: true },
  { text: 'Our dog is called Biscuit.', fact: true },
  { text: 'I prefer to be called in the morning.', fact: true },
  { text: 'I have two kids.', fact: true },
  { text: 'We just moved to Porto.', fact: true },
  { text: 'My email address is sam at example dot com.', fact: true },
  { text: 'I drive a blue Toyota.', fact: true },
  { text: 'Call me Sam.', fact: true },
  { text: 'I was wondering about the opening hours.', fact: false },
  { text: 'Thanks, that helps a lot.', fact: false },
  { text: 'Could you repeat that?', fact: false },
  { text: 'I need you to check my order.', fact: false },
  { text: "I'm calling about my invoice.", fact: false },
  { text: 'That sounds good to me.', fact: false },
  { text: 'Where is my parcel?', fact: false },
  { text: 'I think so.', fact: false },
];
