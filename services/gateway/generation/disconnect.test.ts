import { EventEmitter } from 'node:events';
import type { FastifyReply } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { RequestStream } from '../../protocol/request.js';
import { abortOnDisconnect } from './disconnect.js';

function fakeReply(state: { closed: boolean; writableFinished: boolean }) {
  const raw = Object.assign(new EventEmitter(), state);
  return { reply: { raw } as unknown as FastifyReply, raw };
}

function fakeStreams(n: number) {
  const aborted: number[] = [];
  const streams = Array.from({ length: n }, (_, i) => ({ abort: () => aborted.push(i) }) as unknown as RequestStream);
  return { streams, aborted };
}

describe('abortOnDisconnect', () => {
  it('aborts every choice when the client leaves before the response is complete', () => {
    const { reply, raw } = fakeReply({ closed: false, writableFinished: false });
    const { streams, aborted } = fakeStreams(2);
    abortOnDisconnect(reply, streams);
    expect(aborted).toEqual([]);
    raw.emit('close');
    expect(aborted).toEqual([0, 1]);
  });

  it('a client already gone when the choices start (it left during tokenizing or admission): aborted at once', () => {
    const { reply } = fakeReply({ closed: true, writableFinished: false });
    const { streams, aborted } = fakeStreams(3);
    abortOnDisconnect(reply, streams);
    expect(aborted).toEqual([0, 1, 2]);
  });

  it('a finished response is not aborted by its close', () => {
    const { reply, raw } = fakeReply({ closed: false, writableFinished: true });
    const { streams, aborted } = fakeStreams(1);
    abortOnDisconnect(reply, streams);
    raw.emit('close');
    expect(aborted).toEqual([]);
  });
});
