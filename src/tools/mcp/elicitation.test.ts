import { describe, expect, it } from 'vitest';
import { answerByVoice, parseValue, spokenNumber } from './elicitation.ts';

/** A user who says these lines, in order, to whatever is asked; the questions are kept. */
function user(...answers: string[]) {
  const asked: string[] = [];
  const ask = async (question: string) => {
    asked.push(question);
    const next = answers.shift();
    if (next === undefined) throw new Error(`no scripted answer for: ${question}`);
    return next;
  };
  return { ask, asked };
}

const schema = (properties: Record<string, object>, required: string[] = Object.keys(properties)) => ({
  type: 'object' as const,
  properties: properties as never,
  required,
});

describe('spoken numbers', () => {
  it.each([
    ['42', 42],
    ['forty-two', 42],
    ['three hundred and five', 305],
    ['two thousand twenty six', 2026],
    ['minus 3.5', -3.5],
    ['two point five', 2.5],
    ['about 1,200 people', 1200],
    ['a dozen', undefined],
  ])('%s -> %s', (said, value) => {
    expect(spokenNumber(said)).toBe(value);
  });
});

describe('a spoken answer as a typed value', () => {
  it('booleans, enums by value or title, e-mail addresses, bounds', () => {
    expect(parseValue({ type: 'boolean' }, 'Yes please.')).toEqual({ ok: true, value: true });
    expect(parseValue({ type: 'boolean' }, 'nope')).toEqual({ ok: true, value: false });
    const size = { type: 'string', enum: ['s', 'm', 'l'], enumNames: ['small', 'medium', 'large'] } as never;
    expect(parseValue(size, 'A medium one.')).toEqual({ ok: true, value: 'm' });
    expect(parseValue(size, 'small or large')).toMatchObject({ ok: false });
    const mail = { type: 'string', format: 'email' } as never;
    expect(parseValue(mail, 'Jane at example dot com.')).toEqual({ ok: true, value: 'jane@example.com' });
    expect(parseValue({ type: 'integer', minimum: 1, maximum: 12 }, 'twenty')).toMatchObject({ ok: false });
    expect(parseValue({ type: 'integer' }, 'two point five')).toMatchObject({ ok: false });
  });
});

describe('answerByVoice', () => {
  it('asks the message and each field, and accepts the typed content', async () => {
    const u = user('Ada Lovelace.', 'thirty six', 'yes');
    const result = await answerByVoice(
      {
        message: 'I need your details.',
        requestedSchema: schema({
          name: { type: 'string', description: 'Your full name' },
          age: { type: 'integer', title: 'Age' },
          subscribe: { type: 'boolean', title: 'Subscribe to the newsletter' },
        }),
      },
      u.ask,
    );
    expect(result).toEqual({ action: 'accept', content: { name: 'Ada Lovelace', age: 36, subscribe: true } });
    expect(u.asked[0]).toBe('I need your details. Your full name?');
    expect(u.asked[2]).toBe('Subscribe to the newsletter? Yes or no?');
  });

  it('"no thanks" declines, "never mind" cancels, "skip" leaves an optional field out', async () => {
    const req = (required: string[]) => ({
      message: 'Which city?',
      requestedSchema: schema({ city: { type: 'string' } }, required),
    });
    expect(await answerByVoice(req(['city']), user('No thanks.').ask)).toEqual({ action: 'decline' });
    expect(await answerByVoice(req(['city']), user('Never mind').ask)).toEqual({ action: 'cancel' });
    expect(await answerByVoice(req([]), user('skip').ask)).toEqual({ action: 'accept', content: {} });
  });

  it('asks again after an answer that does not fit, then gives up with cancel', async () => {
    const req = { message: 'How many?', requestedSchema: schema({ n: { type: 'integer' } }) };
    const u = user('lots', 'five');
    expect(await answerByVoice(req, u.ask)).toEqual({ action: 'accept', content: { n: 5 } });
    expect(u.asked[1]).toMatch(/^Sorry, I need a whole number\./);
    expect(await answerByVoice(req, user('lots', 'many', 'plenty').ask)).toEqual({ action: 'cancel' });
  });

  it('offers all the defaults in one question when every field has one', async () => {
    const u = user('Yes, use those.');
    const result = await answerByVoice(
      {
        message: 'Confirm the booking.',
        requestedSchema: schema({ seats: { type: 'integer', title: 'Seats', default: 2 } }, []),
      },
      u.ask,
    );
    expect(result).toEqual({ action: 'accept', content: {} }); // the SDK fills the defaults in
    expect(u.asked).toEqual(['Confirm the booking. Shall I use seats 2?']);
  });
});
