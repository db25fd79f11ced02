import type { ElicitRequest, ElicitResult } from '@modelcontextprotocol/sdk/types.js';

type FormParams = Extract<ElicitRequest['params'], { requestedSchema: unknown }>;
type Field = FormParams['requestedSchema']['properties'][string];
type Value = string | number | boolean | string[];

/** Asks aloud and resolves with the user's spoken answer (ToolContext.ask). */
export type Ask = (question: string) => Promise<string>;

/** How many times one field is asked again after an answer that does not fit it. */
const RETRIES = 2;

const DECLINE =
  /^(no thanks?|decline|i decline|i'?d rather not|rather not|i won'?t|don'?t ask|none of your business|refuse)\b/;
const CANCEL = /^(cancel|never ?mind|forget it|stop)\b/;
const SKIP = /^(skip|skip it|pass|no answer|leave it( blank| empty)?|default|the default|use the default)$/;
const YES =
  /^(yes|yeah|yep|yup|sure|ok|okay|correct|right|true|please do|affirmative|of course|definitely)\b/;
const NO = /^(no|nope|nah|false|not really|negative|incorrect|wrong)\b/;

/**
 * Answers an MCP form elicitation by voice: the server's message is said aloud, then each field is asked (its
 * title or description, and the choices of an enum), and each spoken answer becomes a value of the field's type:
 * text as said (an e-mail address from "jane at example dot com"), numbers from digits or words, yes/no as a
 * boolean, an enum by the choice named. "No thanks"/"decline" declines, "cancel"/"never mind" cancels, "skip"
 * leaves an optional field out (the SDK then fills its default). When every field has a default, one question
 * offers them all. An answer that does not fit is asked again, then the request is cancelled.
 */
export async function answerByVoice(params: FormParams, ask: Ask): Promise<ElicitResult> {
  const { properties, required = [] } = params.requestedSchema;
  const names = Object.keys(properties);
  const message = params.message.trim();
  if (names.length === 0) {
    const said = normalise(await ask(`${message} Shall I go ahead?`));
    if (YES.test(said)) return { action: 'accept', content: {} };
    return CANCEL.test(said) ? { action: 'cancel' } : { action: 'decline' };
  }
  if (names.every((name) => properties[name].default !== undefined)) {
    const defaults = names.map(
      (name) => `${label(name, properties[name])} ${spoken(properties[name].default)}`,
    );
    const said = normalise(await ask(`${message} Shall I use ${defaults.join(', ')}?`));
    if (YES.test(said)) return { action: 'accept', content: {} };
    if (CANCEL.test(said)) return { action: 'cancel' };
    if (DECLINE.test(said)) return { action: 'decline' };
  }
  const content: Record<string, Value> = {};
  let first = true;
  for (const name of names) {
    const field = properties[name];
    const optional = !required.includes(name);
    let question = `${first ? `${message} ` : ''}${questionFor(name, field, optional, names.length)}`;
    first = false;
    for (let attempt = 0; ; attempt++) {
      const raw = await ask(question);
      const said = normalise(raw);
      if (CANCEL.test(said)) return { action: 'cancel' };
      if (field.type !== 'boolean' && (DECLINE.test(said) || said === 'no')) return { action: 'decline' };
      if (optional && SKIP.test(said)) break;
      const value = parseValue(field, raw);
      if (value.ok) {
        content[name] = value.value;
        break;
      }
      if (attempt >= RETRIES) return { action: 'cancel' };
      question = `Sorry, ${value.why}. ${questionFor(name, field, optional, 2)}`;
    }
  }
  return { action: 'accept', content };
}

function label(name: string, field: Field): string {
  return (field.title ?? name.replace(/[_-]+/g, ' ')).toLowerCase();
}

function questionFor(name: string, field: Field, optional: boolean, fields: number): string {
  const what = field.description ?? field.title ?? name.replace(/[_-]+/g, ' ');
  const choices = choicesOf(field);
  const parts = [fields > 1 || !field.description ? `${capitalise(what)}?` : ''];
  if (choices) parts.push(`Say ${orList(choices.map((c) => c.title))}.`);
  else if (field.type === 'boolean') parts.push('Yes or no?');
  if (optional) parts.push('Or say skip.');
  return parts.filter(Boolean).join(' ');
}

function choicesOf(field: Field): { value: string; title: string }[] | undefined {
  const f = field as Record<string, unknown>;
  const fromOneOf = (list: unknown) =>
    Array.isArray(list)
      ? list.map((o: { const: string; title?: string }) => ({ value: o.const, title: o.title ?? o.const }))
      : undefined;
  if (Array.isArray(f.enum)) {
    const titles = Array.isArray(f.enumNames) ? (f.enumNames as string[]) : undefined;
    return (f.enum as string[]).map((value, i) => ({ value, title: titles?.[i] ?? value }));
  }
  if (f.oneOf) return fromOneOf(f.oneOf);
  if (f.type === 'array' && f.items) {
    const items = f.items as Record<string, unknown>;
    return Array.isArray(items.enum)
      ? (items.enum as string[]).map((value) => ({ value, title: value }))
      : fromOneOf(items.anyOf);
  }
  return undefined;
}

type Parsed = { ok: true; value: Value } | { ok: false; why: string };

/** A spoken answer as a value of the field's type, or why it does not fit. */
export function parseValue(field: Field, raw: string): Parsed {
  const said = normalise(raw);
  const choices = choicesOf(field);
  if (choices) {
    const named = choices.filter(
      (c) => containsWords(said, normalise(c.title)) || containsWords(said, normalise(c.value)),
    );
    if (field.type === 'array') {
      if (named.length === 0) return { ok: false, why: `I did not hear one of the choices` };
      return { ok: true, value: named.map((c) => c.value) };
    }
    if (named.length === 1) return { ok: true, value: named[0].value };
    return {
      ok: false,
      why: named.length === 0 ? 'I did not hear one of the choices' : 'I heard more than one choice',
    };
  }
  switch (field.type) {
    case 'boolean':
      if (YES.test(said)) return { ok: true, value: true };
      if (NO.test(said)) return { ok: true, value: false };
      return { ok: false, why: 'I need a yes or a no' };
    case 'number':
    case 'integer': {
      const n = spokenNumber(said);
      if (n === undefined || (field.type === 'integer' && !Number.isInteger(n)))
        return { ok: false, why: `I need ${field.type === 'integer' ? 'a whole number' : 'a number'}` };
      if (field.minimum !== undefined && n < field.minimum)
        return { ok: false, why: `it must be at least ${field.minimum}` };
      if (field.maximum !== undefined && n > field.maximum)
        return { ok: false, why: `it must be at most ${field.maximum}` };
      return { ok: true, value: n };
    }
    default: {
      let text = raw.trim().replace(/[.!?]+$/, '');
      const format = (field as { format?: string }).format;
      if (format === 'email') text = said.replace(/ at /g, '@').replace(/ dot /g, '.').replace(/\s+/g, '');
      if (!text) return { ok: false, why: 'I did not catch that' };
      const f = field as { minLength?: number; maxLength?: number };
      if (f.minLength !== undefined && text.length < f.minLength)
        return { ok: false, why: 'that is too short' };
      if (f.maxLength !== undefined && text.length > f.maxLength)
        return { ok: false, why: 'that is too long' };
      if (format === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(text))
        return { ok: false, why: 'that did not sound like an e-mail address' };
      return { ok: true, value: text };
    }
  }
}

const UNITS =
  'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen'.split(
    ' ',
  );
const TENS = 'twenty thirty forty fifty sixty seventy eighty ninety'.split(' ');

/** "42", "forty-two", "three hundred and five", "minus 3.5", "two point five". */
export function spokenNumber(said: string): number | undefined {
  const digits = /-?\d+(?:[.,]\d+)?/.exec(said.replace(/(\d),(\d{3})/g, '$1$2'));
  if (digits) {
    const n = Number(digits[0].replace(',', '.'));
    return /\b(minus|negative)\b/.test(said) && n > 0 ? -n : n;
  }
  const words = said
    .replace(/-/g, ' ')
    .split(/\s+/)
    .filter((w) => w !== 'and' && w !== 'a');
  let total = 0;
  let current = 0;
  let seen = false;
  let sign = 1;
  let fraction: string | undefined;
  for (const w of words) {
    if (fraction !== undefined) {
      const d = UNITS.indexOf(w);
      if (d >= 0 && d <= 9) fraction += String(d);
      continue;
    }
    if (w === 'minus' || w === 'negative') sign = -1;
    else if (UNITS.includes(w)) {
      current += UNITS.indexOf(w);
      seen = true;
    } else if (TENS.includes(w)) {
      current += (TENS.indexOf(w) + 2) * 10;
      seen = true;
    } else if (w === 'hundred') {
      current = (current || 1) * 100;
      seen = true;
    } else if (w === 'thousand' || w === 'million') {
      total += (current || 1) * (w === 'thousand' ? 1000 : 1_000_000);
      current = 0;
      seen = true;
    } else if (w === 'point' && seen) fraction = '';
  }
  if (!seen) return undefined;
  const whole = total + current;
  return sign * (fraction ? Number(`${whole}.${fraction}`) : whole);
}

function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9@.'\s-]/g, ' ')
    .replace(/\.(?=\s|$)/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
}

function containsWords(said: string, words: string): boolean {
  return words.length > 0 && ` ${said} `.includes(` ${words} `);
}

function spoken(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return Array.isArray(value) ? orList(value.map(String)) : String(value);
}

function orList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
