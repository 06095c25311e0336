import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { findIncompatibilities, parseCompatibilityLevel } from '../../src/registry/compatibility.js';

const type = (schema: unknown) => avsc.Type.forSchema(schema as avsc.Schema);
const record = (fields: object[]) => type({ type: 'record', name: 'R', fields });

describe('findIncompatibilities', () => {
  const base = record([{ name: 'a', type: 'int' }]);
  const widened = record([{ name: 'a', type: 'long' }]);
  const withDefault = record([
    { name: 'a', type: 'int' },
    { name: 'b', type: ['null', 'string'], default: null },
  ]);

  it('follows Avro resolution: int promotes to long, long does not narrow to int', () => {
    expect(findIncompatibilities(widened, [base], 'BACKWARD')).toEqual([]);
    expect(findIncompatibilities(widened, [base], 'FORWARD')).toHaveLength(1);
    expect(findIncompatibilities(widened, [base], 'FULL')).toHaveLength(1);
  });

  it('a field with a default is FULL compatible both ways', () => {
    expect(findIncompatibilities(withDefault, [base], 'FULL')).toEqual([]);
    expect(findIncompatibilities(base, [withDefault], 'FULL')).toEqual([]);
  });

  it('removing an enum symbol breaks BACKWARD (old data may hold it) but not FORWARD', () => {
    const ab = type({ type: 'enum', name: 'E', symbols: ['A', 'B'] });
    const a = type({ type: 'enum', name: 'E', symbols: ['A'] });
    expect(findIncompatibilities(a, [ab], 'BACKWARD')).toHaveLength(1);
    expect(findIncompatibilities(a, [ab], 'FORWARD')).toEqual([]);
  });

  it('renaming a record without an alias is incompatible', () => {
    const renamed = type({ type: 'record', name: 'S', fields: [{ name: 'a', type: 'int' }] });
    expect(findIncompatibilities(renamed, [base], 'BACKWARD')).toHaveLength(1);
  });

  it('non-transitive levels look at the latest only, transitive ones at every earlier version', () => {
    const required = record([
      { name: 'a', type: 'int' },
      { name: 'b', type: ['null', 'string'] },
    ]);
    expect(findIncompatibilities(required, [base, withDefault], 'BACKWARD')).toEqual([]);
    expect(findIncompatibilities(required, [base, withDefault], 'BACKWARD_TRANSITIVE')).toHaveLength(1);
  });

  it('NONE and a first version accept anything', () => {
    expect(findIncompatibilities(type('string'), [base], 'NONE')).toEqual([]);
    expect(findIncompatibilities(type('string'), [], 'FULL_TRANSITIVE')).toEqual([]);
  });
});

describe('parseCompatibilityLevel', () => {
  it('accepts any case and refuses unknown levels', () => {
    expect(parseCompatibilityLevel('full_transitive')).toBe('FULL_TRANSITIVE');
    expect(parseCompatibilityLevel('SIDEWAYS')).toBeUndefined();
    expect(parseCompatibilityLevel(3)).toBeUndefined();
  });
});
