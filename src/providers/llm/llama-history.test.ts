import { describe, expect, it } from 'vitest';
import { toChatFunctions, toChatHistory, toToolCalls } from './llama-history.ts';
import { toGbnfParams, toGbnfSchema } from './llama-schema.ts';

describe('toChatHistory', () => {
  it('maps roles and ends with an empty model response to ask for a reply', () => {
    expect(
      toChatHistory([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello', interrupted: true },
        { role: 'user', content: 'Weather?' },
      ]),
    ).toEqual([
      { type: 'system', text: 'Be brief.' },
      { type: 'user', text: 'Hi' },
      { type: 'model', response: ['Hello'] },
      { type: 'user', text: 'Weather?' },
      { type: 'model', response: [] },
    ]);
  });

  it('folds a tool call, its result and the text after it into one model response', () => {
    const history = toChatHistory(
      [
        { role: 'user', content: 'Weather in Oslo?' },
        {
          role: 'assistant',
          content: 'Checking.',
          toolCalls: [{ id: 'c1', name: 'weather', arguments: '{"city":"Oslo"}' }],
        },
        { role: 'tool', toolCallId: 'c1', content: '{"tempC":3}' },
      ],
      [{ name: 'weather', description: 'Weather for a city', parameters: {} }],
    );
    expect(history).toEqual([
      { type: 'user', text: 'Weather in Oslo?' },
      {
        type: 'model',
        response: [
          'Checking.',
          {
            type: 'functionCall',
            name: 'weather',
            description: 'Weather for a city',
            params: { city: 'Oslo' },
            result: { tempC: 3 },
          },
        ],
      },
    ]);
    // The final answer after the result continues the same response.
    const more = toChatHistory([
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: 'not json' }] },
      { role: 'tool', toolCallId: 'c1', content: 'plain result' },
      { role: 'assistant', content: 'Done.' },
      { role: 'user', content: 'Thanks' },
    ]);
    expect(more[1]).toEqual({
      type: 'model',
      response: [
        {
          type: 'functionCall',
          name: 'f',
          description: undefined,
          params: 'not json',
          result: 'plain result',
        },
        'Done.',
      ],
    });
    expect(more.at(-1)).toEqual({ type: 'model', response: [] });
  });

  it('keeps a tool result whose call was pruned as text', () => {
    const history = toChatHistory([{ role: 'tool', toolCallId: 'gone', content: '42' }]);
    expect(history[0]).toEqual({ type: 'user', text: 'Tool result (gone): 42' });
  });
});

describe('tool mapping', () => {
  it('gives calls fresh ids and JSON arguments', () => {
    const [call] = toToolCalls([{ functionName: 'f', params: { a: 1 } }]);
    expect(call.name).toBe('f');
    expect(call.arguments).toBe('{"a":1}');
    expect(call.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(toToolCalls([{ functionName: 'g', params: undefined }])[0].arguments).toBe('{}');
  });

  it('returns no functions for no tools, and no params for an empty object schema', () => {
    expect(toChatFunctions([])).toBeUndefined();
    expect(toGbnfParams({ type: 'object', properties: {} })).toBeUndefined();
    expect(toChatFunctions([{ name: 'f', description: 'd', parameters: { type: 'object' } }])).toEqual({
      f: { description: 'd', params: undefined },
    });
  });

  it('narrows JSON Schema to what a grammar can express', () => {
    expect(
      toGbnfSchema({
        $schema: 'x',
        type: 'object',
        title: 'T',
        properties: {
          n: { type: 'integer', minimum: 0 },
          s: { type: 'string', pattern: 'a+', maxLength: 3 },
          d: { type: 'string', format: 'date' },
          u: { type: 'string', format: 'uri' },
          e: { enum: ['a', 'b'] },
          o: { anyOf: [{ type: 'string' }, { type: 'null' }] },
          t: { type: ['string', 'null'] },
          r: { $ref: '#/$defs/Point' },
          a: { type: 'array', items: { type: 'number' }, maxItems: 2 },
          x: {},
        },
        required: ['n', 'missing'],
        $defs: { Point: { type: 'object', properties: { x: { type: 'number' } } } },
      }),
    ).toEqual({
      type: 'object',
      properties: {
        n: { type: 'integer' },
        s: { type: 'string', maxLength: 3 },
        d: { type: 'string', format: 'date' },
        u: { type: 'string' },
        e: { enum: ['a', 'b'] },
        o: { oneOf: [{ type: 'string' }, { type: 'null' }] },
        t: { type: ['string', 'null'] },
        r: {
          type: 'object',
          properties: { x: { type: 'number' } },
          required: [],
          additionalProperties: false,
        },
        a: { type: 'array', items: { type: 'number' }, maxItems: 2 },
        x: { type: ['string', 'number', 'boolean', 'null'] },
      },
      required: ['n'],
      additionalProperties: false,
    });
  });

  it('cuts recursive references off instead of looping', () => {
    const schema = {
      $defs: { Node: { type: 'object', properties: { next: { $ref: '#/$defs/Node' } } } },
      $ref: '#/$defs/Node',
    };
    expect(() => toGbnfSchema(schema)).not.toThrow();
  });
});
