import { z } from 'zod';
import {
  type Agent,
  AgentDefinitionError,
  type AgentToolContext,
  defineAgent,
  defineTool,
} from './definition.ts';
import { type Handoff, handoff } from './handoff.ts';

/** One value a task collects: what to ask for (the LLM reads it) and how to check it. */
export interface TaskField<T = unknown> {
  description: string;
  schema: z.ZodType<T>;
  /** How the value is read back for confirmation. Default: String(value). */
  format?(value: T): string;
}

const NUMBER_WORDS: Record<string, string> = {
  zero: '0',
  oh: '0',
  o: '0',
  one: '1',
  two: '2',
  three: '3',
  four: '4',
  five: '5',
  six: '6',
  seven: '7',
  eight: '8',
  nine: '9',
};
const SMALL_NUMBERS = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
  'twenty',
];

/** Digits of a phone number as said or written: "five five five, one two three four" → "5551234". */
export function phoneDigits(text: string): string {
  const words = text
    .toLowerCase()
    .replace(/[^a-z0-9+]+/g, ' ')
    .trim()
    .split(' ');
  let out = '';
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    const next = words[i + 1];
    if ((word === 'double' || word === 'triple') && next && NUMBER_WORDS[next]) {
      out += NUMBER_WORDS[next].repeat(word === 'double' ? 2 : 3);
      i++;
    } else if (NUMBER_WORDS[word]) out += NUMBER_WORDS[word];
    else out += word.replace(/[^0-9+]/g, '');
  }
  return out;
}

/** Typed fields for `defineTask`, with the checks a voice conversation needs. */
export const fields = {
  text(description: string, options: { maxLength?: number } = {}): TaskField<string> {
    return {
      description,
      schema: z
        .string()
        .trim()
        .min(1)
        .max(options.maxLength ?? 200),
    };
  },
  /** A whole number, given as digits or a word ("four"). */
  integer(description: string, options: { min?: number; max?: number } = {}): TaskField<number> {
    let schema = z.number().int();
    if (options.min !== undefined) schema = schema.min(options.min);
    if (options.max !== undefined) schema = schema.max(options.max);
    const parse = (value: unknown) => {
      if (typeof value !== 'string') return value;
      const word = SMALL_NUMBERS.indexOf(value.trim().toLowerCase());
      return word >= 0 ? word : Number(value.trim());
    };
    return { description, schema: z.preprocess(parse, schema) as unknown as z.ZodType<number> };
  },
  /** A calendar date, recorded as YYYY-MM-DD. */
  date(description: string): TaskField<string> {
    return { description: `${description} (record it as YYYY-MM-DD)`, schema: z.iso.date() };
  },
  /** A phone number: 7 to 15 digits, an optional leading +; spoken digits ("five five five") are accepted. */
  phone(description: string): TaskField<string> {
    const schema = z.preprocess(
      (value) => (typeof value === 'string' ? phoneDigits(value) : value),
      z.string().regex(/^\+?[0-9]{7,15}$/, 'a phone number has 7 to 15 digits'),
    ) as unknown as z.ZodType<string>;
    return { description, schema, format: (v) => v.split('').join(' ') };
  },
};

type Values<F extends Record<string, TaskField>> = {
  [K in keyof F]: F[K] extends TaskField<infer T> ? T : never;
};

export interface TaskDefinition<F extends Record<string, TaskField>> {
  name: string;
  /** What the task is for, said to the LLM before the fields ("Collect the booking details."). */
  instructions?: string;
  fields: F;
  /** Read the values back and wait for the user's yes before completing. Default true. */
  confirm?: boolean;
  /**
   * Runs with the confirmed values. Return an agent (or `handoff(agent)`) to hand over; a text to hand back to the
   * agent that started the task with that text as the result it reads ("Booked, reference R1."); nothing to hand
   * back with the values read back.
   */
  onComplete(
    values: Values<F>,
    context: AgentToolContext,
  ): Promise<Agent | Handoff | string | undefined> | Agent | Handoff | string | undefined;
}

/** The values a task has recorded in one session (a task serves many sessions). */
const recorded = new WeakMap<object, Map<string, Record<string, unknown>>>();

function stateOf(session: unknown, task: string): Record<string, unknown> {
  const key = (session ?? recorded) as object;
  let byTask = recorded.get(key);
  if (!byTask) {
    byTask = new Map();
    recorded.set(key, byTask);
  }
  let values = byTask.get(task);
  if (!values) {
    values = {};
    byTask.set(task, values);
  }
  return values;
}

/**
 * A structured conversation step: an agent that collects typed fields by voice (asking for what is missing,
 * checking each value, reading them back for confirmation), then hands over or back. Hand over to it from a tool
 * (`return bookingTask`), like to any agent.
 */
export function defineTask<F extends Record<string, TaskField>>(definition: TaskDefinition<F>): Agent {
  const name = definition?.name ?? 'task';
  const entries = Object.entries(definition?.fields ?? {});
  if (entries.length === 0) throw new AgentDefinitionError(name, 'fields', 'must list at least one field');
  for (const [key, field] of entries) {
    if (!/^[a-zA-Z][a-zA-Z0-9_]{0,40}$/.test(key))
      throw new AgentDefinitionError(name, `fields.${key}`, 'must be a name of letters, digits or "_"');
    if (typeof field?.description !== 'string' || typeof field?.schema?.safeParse !== 'function')
      throw new AgentDefinitionError(
        name,
        `fields.${key}`,
        'needs a description and a zod schema (use fields.*)',
      );
  }
  if (typeof definition.onComplete !== 'function')
    throw new AgentDefinitionError(name, 'onComplete', 'must be a function');
  const confirm = definition.confirm ?? true;
  const shape = Object.fromEntries(
    entries.map(([key, f]) => [key, f.schema.optional().describe(f.description)]),
  );
  const missing = (values: Record<string, unknown>) => entries.filter(([key]) => values[key] === undefined);
  const readBack = (values: Record<string, unknown>) =>
    entries
      .map(([key, f]) => `${f.description}: ${f.format ? f.format(values[key]) : String(values[key])}`)
      .join('; ');

  const complete = async (context: AgentToolContext) => {
    const values = stateOf(context.session, name);
    const result = await definition.onComplete({ ...values } as Values<F>, context);
    recorded.get((context.session ?? recorded) as object)?.delete(name);
    if (typeof result === 'object' && result !== null) return result;
    const text = result ?? `Confirmed: ${readBack(values)}.`;
    return context.previousAgent ? handoff(context.previousAgent, { result: text }) : text;
  };

  const record = defineTool({
    name: 'record_details',
    description: `Record details the caller gave (any of: ${entries.map(([k]) => k).join(', ')}).`,
    parameters: z.object(shape),
    execute: async (args: Record<string, unknown>, context) => {
      const values = stateOf(context.session, name);
      for (const [key, value] of Object.entries(args)) if (value !== undefined) values[key] = value;
      const left = missing(values);
      if (left.length > 0)
        return `Recorded. Still needed: ${left.map(([k, f]) => `${k} (${f.description})`).join(', ')}. Ask for one.`;
      if (!confirm) return complete(context as AgentToolContext);
      return `All recorded: ${readBack(values)}. Read these back to the caller and ask if they are correct, then call confirm_details.`;
    },
  });
  const confirmTool = defineTool({
    name: 'confirm_details',
    description:
      'The caller answered the read-back: correct true if they confirmed, false if something is wrong.',
    parameters: z.object({ correct: z.boolean() }),
    execute: async ({ correct }, context) => {
      const values = stateOf(context.session, name);
      const left = missing(values);
      if (left.length > 0) throw new Error(`still missing: ${left.map(([k]) => k).join(', ')}`);
      if (!correct) return 'Ask which detail is wrong, then record the corrected value with record_details.';
      return complete(context as AgentToolContext);
    },
  });
  const list = entries.map(([key, f]) => `- ${key}: ${f.description}`).join('\n');
  return defineAgent({
    name,
    instructions:
      `${definition.instructions ?? 'Collect some details from the caller.'}\nThe details:\n${list}\n` +
      'Ask for one missing detail at a time, briefly. As soon as the caller gives a detail, call record_details ' +
      '(several at once is fine). ' +
      (confirm
        ? 'When all are recorded, read them back and ask if they are correct; then call confirm_details.'
        : ''),
    tools: confirm ? [record, confirmTool] : [record],
  });
}
