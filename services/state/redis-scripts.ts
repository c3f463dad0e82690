/**
 * Lua sources of every write the Redis store does. Each write is ONE script, so check-and-set,
 * history, active-set and TTL updates happen atomically (Redis runs a script to completion with
 * nothing interleaved). The transition table, terminal set and history letters are generated
 * from transitions.ts / redis-layout.ts into a shared prelude, so Lua and TypeScript cannot drift.
 *
 * Replies are arrays whose first element is a status: 'ok' (followed by the data), or the reason
 * of a refusal ('missing', 'conflict', 'duplicate', 'inactive', 'gap', 'moved') followed by
 * details; the TypeScript side turns refusals into typed errors.
 *
 * Every write raises the record's version (`ver`). With the at-rest key the store also passes the
 * version it read and the record tag of the hash the write leaves (record-effects.ts): the script
 * answers 'moved' when the record changed since that read, else writes the tag (`mac`) with the
 * fields, atomically.
 */
import { STATE_CODES } from './redis-layout.js';
import { SEQUENCE_STATES, TERMINAL_STATES, TRANSITIONS } from './transitions.js';
import { WORKER_STAGES } from './types.js';

const lua = (s: string): string => JSON.stringify(s); // state names and codes are plain ASCII

function luaTable(entries: ReadonlyArray<readonly [string, string]>): string {
  return `{${entries.map(([k, v]) => `[${lua(k)}]=${v}`).join(', ')}}`;
}

const PRELUDE = [
  // EDGES[from][to] = 'advance' | 'retry' for every legal move.
  `local EDGES = ${luaTable(
    SEQUENCE_STATES.map((from) => [from, luaTable(Object.entries(TRANSITIONS[from]).map(([to, kind]) => [to, lua(kind!)]))]),
  )}`,
  `local TERMINAL = ${luaTable([...TERMINAL_STATES].map((s) => [s, 'true']))}`,
  `local CODES = ${luaTable(SEQUENCE_STATES.map((s) => [s, lua(STATE_CODES[s])]))}`,
  // Hash fields a transition patch may set; anything else is a caller bug.
  `local PATCHABLE = ${luaTable([...WORKER_STAGES.map((s) => `w:${s}`), 'generatedTokens', 'error'].map((f) => [f, 'true']))}`,
].join('\n');

/**
 * KEYS: record, tokens, active, request. ARGV: id, op, nowMs, deadlineMs, promptTokens, request
 * JSON ('' for none), record tag ('' for none). Refuses an existing id unless it was created by
 * this very op (a re-sent create).
 */
export const CREATE_SCRIPT = `${PRELUDE}
local rec, tokens, active, request = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, op, now, deadline = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', rec) == 1 then
  if redis.call('HGET', rec, 'op') == op then return {'ok', redis.call('HGETALL', rec)} end
  return {'duplicate'}
end
redis.call('DEL', tokens, request)
if ARGV[6] ~= '' then redis.call('SET', request, ARGV[6]) end
redis.call('HSET', rec, 'id', id, 'state', 'queued', 'attempt', '1', 'createdAtMs', now, 'updatedAtMs', now,
  'deadlineMs', deadline, 'promptTokens', ARGV[5], 'generatedTokens', '0', 'history', CODES['queued'],
  't:queued', now, 'op', op, 'ver', '1')
if ARGV[7] and ARGV[7] ~= '' then redis.call('HSET', rec, 'mac', ARGV[7]) end
redis.call('ZADD', active, deadline, id)
return {'ok', redis.call('HGETALL', rec)}
`;

/**
 * KEYS: record, tokens, active, request. ARGV: id, op, from, to, nowMs, terminalTtlMs, expectedAttempt
 * ('' for any), expected version ('' for any), record tag ('' for none), then patch field/value
 * pairs (w:<stage>, generatedTokens, error).
 * Check-and-set of the state (and attempt, if given), attempt+1 on retry edges, history + state time, patch, and for a
 * terminal state: removal from the active set and a TTL on record, tokens and request.
 */
export const TRANSITION_SCRIPT = `${PRELUDE}
local rec, tokens, active, request = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, op, from, to, now, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local state = redis.call('HGET', rec, 'state')
if not state then return {'missing'} end
if redis.call('HGET', rec, 'op') == op then return {'ok', redis.call('HGETALL', rec)} end
if ARGV[8] ~= '' and redis.call('HGET', rec, 'ver') ~= ARGV[8] then return {'moved'} end
local kind = EDGES[from] and EDGES[from][to]
if state ~= from or not kind then return {'conflict', state} end
local attempt = redis.call('HGET', rec, 'attempt')
if ARGV[7] ~= '' and ARGV[7] ~= attempt then return {'stale', state, attempt} end
for i = 10, #ARGV, 2 do
  if not PATCHABLE[ARGV[i]] then return redis.error_reply('tandem: field not patchable: ' .. ARGV[i]) end
end
if kind == 'retry' then redis.call('HINCRBY', rec, 'attempt', 1) end
local history = redis.call('HGET', rec, 'history') or ''
redis.call('HSET', rec, 'state', to, 'updatedAtMs', now, 't:' .. to, now, 'history', history .. CODES[to], 'op', op)
for i = 10, #ARGV, 2 do redis.call('HSET', rec, ARGV[i], ARGV[i + 1]) end
redis.call('HINCRBY', rec, 'ver', 1)
if ARGV[9] ~= '' then redis.call('HSET', rec, 'mac', ARGV[9]) end
if TERMINAL[to] then
  redis.call('ZREM', active, id)
  redis.call('PEXPIRE', rec, ttl)
  redis.call('PEXPIRE', tokens, ttl)
  redis.call('PEXPIRE', request, ttl)
end
return {'ok', redis.call('HGETALL', rec)}
`;

/**
 * KEYS: record, tokens. ARGV: from (token index), packed uint32 LE token ids, the checkpoint's
 * token tag, expected version, record tag ('' for none each).
 * Compares the overlap with what is stored (idempotent resend), appends the rest, raises
 * generatedTokens to the stored count. Replies {'ok', stored count} or a refusal.
 */
export const CHECKPOINT_SCRIPT = `${PRELUDE}
local rec, tokens = KEYS[1], KEYS[2]
local from, data = tonumber(ARGV[1]), ARGV[2]
local state = redis.call('HGET', rec, 'state')
if not state then return {'missing'} end
if TERMINAL[state] then return {'inactive', state} end
if ARGV[4] and ARGV[4] ~= '' and redis.call('HGET', rec, 'ver') ~= ARGV[4] then return {'moved'} end
local have = redis.call('STRLEN', tokens) / 4
if from > have then return {'gap', have} end
local n = #data / 4
local overlap = math.min(have, from + n) - from
if overlap > 0 then
  local stored = redis.call('GETRANGE', tokens, from * 4, (from + overlap) * 4 - 1)
  local sent = string.sub(data, 1, overlap * 4)
  if stored ~= sent then
    for i = 0, overlap - 1 do
      local a, b = string.sub(stored, i * 4 + 1, i * 4 + 4), string.sub(sent, i * 4 + 1, i * 4 + 4)
      if a ~= b then
        local b1, b2, b3, b4 = string.byte(a, 1, 4)
        return {'conflict', from + i, b1 + b2 * 256 + b3 * 65536 + b4 * 16777216}
      end
    end
  end
end
if n > overlap then redis.call('APPEND', tokens, string.sub(data, overlap * 4 + 1)) end
-- With the at-rest key: this checkpoint's tag (at-rest.ts), so a read can tell stored tokens
-- nobody changed from tampered ones.
if ARGV[3] and ARGV[3] ~= '' and n > 0 then redis.call('HSET', rec, 'tag:' .. from .. ':' .. n, ARGV[3]) end
local total = math.max(have, from + n)
if (tonumber(redis.call('HGET', rec, 'generatedTokens')) or 0) < total then
  redis.call('HSET', rec, 'generatedTokens', string.format('%d', total))
end
redis.call('HINCRBY', rec, 'ver', 1)
if ARGV[5] and ARGV[5] ~= '' then redis.call('HSET', rec, 'mac', ARGV[5]) end
return {'ok', total}
`;

/**
 * KEYS: record, active. ARGV: id, deadlineMs, expected version, record tag ('' for none each).
 * Moves the deadline (hash + active-set score) later, never earlier.
 */
export const EXTEND_SCRIPT = `${PRELUDE}
local rec, active = KEYS[1], KEYS[2]
local id, deadline = ARGV[1], ARGV[2]
local state = redis.call('HGET', rec, 'state')
if not state then return {'missing'} end
if TERMINAL[state] then return {'inactive', state} end
if ARGV[3] and ARGV[3] ~= '' and redis.call('HGET', rec, 'ver') ~= ARGV[3] then return {'moved'} end
if tonumber(deadline) > tonumber(redis.call('HGET', rec, 'deadlineMs')) then
  redis.call('HSET', rec, 'deadlineMs', deadline)
  redis.call('ZADD', active, deadline, id)
end
redis.call('HINCRBY', rec, 'ver', 1)
if ARGV[4] and ARGV[4] ~= '' then redis.call('HSET', rec, 'mac', ARGV[4]) end
return {'ok'}
`;
