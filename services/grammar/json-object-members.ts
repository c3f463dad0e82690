import { GRAMMAR_LIMITS, type Expr } from './grammar.js';
import { alt, lit, optional, seq, unrolledSize } from './expr-builders.js';

export interface ObjectMember {
  /** The property name as it appears in the schema (JSON-encoded here). */
  name: string;
  value: Expr;
  required: boolean;
}

/** A value expression bigger than this (unrolled) is moved into its own rule rather than copied. */
const HOIST_ABOVE_SIZE = 24;

/**
 * `{…}` with the members in the given order: required ones always, optional ones present or
 * not, and commas right for every combination. Members after the first one written carry a
 * leading comma; the first one written is chosen by an alternative over the optional members up
 * to the first required one:
 *
 *   {  ( m0 (,m1)? ,m2 (,m3)?  |  m1 ,m2 (,m3)?  |  m2 (,m3)? )  }      (m2 required)
 *
 * That copies the tail once per leading optional member, so the size grows with the square of
 * their number; large member values are therefore put in rules (`hoist`) and referenced.
 */
export function objectOfMembers(
  members: ObjectMember[],
  hoist: (member: ObjectMember) => Expr,
  tooLarge: (leadingOptional: number) => Error,
): Expr {
  const firstRequired = members.findIndex((m) => m.required);
  const lastLead = firstRequired < 0 ? members.length - 1 : firstRequired;
  const leading = lastLead + 1;
  if ((leading * (leading + 1)) / 2 > GRAMMAR_LIMITS.maxNodes) {
    throw tooLarge(leading);
  }
  // Member j is written in the options i <= min(j, lastLead): more than once when that is >= 1.
  const text = members.map((m, j) => {
    const value = Math.min(j, lastLead) >= 1 && unrolledSize(m.value) > HOIST_ABOVE_SIZE ? hoist(m) : m.value;
    return seq(lit(`${JSON.stringify(m.name)}:`), value);
  });
  const tail = (from: number): Expr[] =>
    members.slice(from).map((m, k) => (m.required ? seq(lit(','), text[from + k]!) : optional(seq(lit(','), text[from + k]!))));
  const options: Expr[] = [];
  for (let i = 0; i <= lastLead && i < members.length; i++) options.push(seq(text[i]!, ...tail(i + 1)));
  if (firstRequired < 0) options.push(lit(''));
  return seq(lit('{'), alt(...options), lit('}'));
}
