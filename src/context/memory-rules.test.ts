import { describe, expect, it } from 'vitest';
import { forgetCommand, statedFacts } from './memory-rules.ts';

describe('forgetCommand', () => {
  it.each([
    ['Forget that.', { scope: 'last' }],
    ['Okay, please forget that', { scope: 'last' }],
    ['Can you forget what I just said?', { scope: 'last' }],
    ['forget it', { scope: 'last' }],
    ['Forget what I told you about my budget.', { scope: 'about', topic: 'my budget' }],
    ['Please forget everything I said about the kitchen', { scope: 'about', topic: 'the kitchen' }],
    ['forget about my address', { scope: 'about', topic: 'my address' }],
    ['Forget that I live in Lyon.', { scope: 'about', topic: 'i live in lyon' }],
    ['Forget my phone number', { scope: 'about', topic: 'my phone number' }],
    ['Forget everything about me.', { scope: 'all' }],
    ['forget everything', { scope: 'all' }],
    ['Thanks. Now forget all you know about me!', { scope: 'all' }],
    ['Delete everything you know about me.', { scope: 'all' }],
  ])('%s', (text, command) => {
    expect(forgetCommand(text)).toEqual(command);
  });

  it.each([
    "Don't forget that.",
    "Please don't forget that my budget is 40 thousand euros.",
    'Never forget it.',
    'Do not forget about my appointment.',
    'I always forget that the shop closes at six.',
    'I forgot that.',
    'Forgetting things is normal.',
    'Delete that email.',
    'What did I tell you to forget?',
  ])('not: %s', (text) => {
    expect(forgetCommand(text)).toBeUndefined();
  });
});

describe('statedFacts', () => {
  it('keeps first-person statements, as said', () => {
    expect(
      statedFacts(
        "Hi there. My budget is 40 thousand euros. I live in Lyon! I'm a vegetarian. Is it raining? I like jazz.",
      ),
    ).toEqual(['My budget is 40 thousand euros.', 'I live in Lyon!', "I'm a vegetarian.", 'I like jazz.']);
    expect(statedFacts("My daughter's name is Ana and our flat is on the third floor")).toEqual([
      "My daughter's name is Ana and our flat is on the third floor",
    ]);
  });

  it('leaves out questions, requests, small talk and requests to forget', () => {
    expect(
      statedFacts(
        "What is my budget? Can you book a table. I'm not sure. Forget that my budget is 5 euros. Do I have an appointment? The weather is nice.",
      ),
    ).toEqual([]);
  });
});
