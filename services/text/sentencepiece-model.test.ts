import { describe, expect, it } from 'vitest';
import {
  ProtoWriter,
  fieldBool,
  fieldFloat,
  fieldInt32,
  fieldString,
  fieldUint,
  readFields,
} from './protobuf.js';
import { buildGeneratedVocab } from '../../tools/tokenizer/generated-vocab.js';
import {
  ModelType,
  PieceType,
  defaultNormalizerSpec,
  defaultTrainerSpec,
  readSentencePieceModel,
  writeSentencePieceModel,
  type SentencePieceModel,
} from './sentencepiece-model.js';

describe('protobuf codec', () => {
  it('round-trips varints, negative int32, floats, bools and strings', () => {
    const buf = new ProtoWriter()
      .uint(1, 0)
      .uint(2, 300)
      .uint(3, 2 ** 40 + 5)
      .int32(4, -1)
      .int32(5, -2147483648)
      .float(6, -1.5)
      .bool(7, true)
      .string(8, 'héllo ▁ 😀')
      .finish();
    const f = [...readFields(buf)];
    expect(f.map((x) => x.field)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(fieldUint(f[0]!)).toBe(0);
    expect(fieldUint(f[1]!)).toBe(300);
    expect(fieldUint(f[2]!)).toBe(2 ** 40 + 5);
    expect(fieldInt32(f[3]!)).toBe(-1);
    expect(f[3]!.raw.length).toBe(11); // tag + 10-byte sign-extended varint, as protoc writes it
    expect(fieldInt32(f[4]!)).toBe(-2147483648);
    expect(fieldFloat(f[5]!)).toBe(-1.5);
    expect(fieldBool(f[6]!)).toBe(true);
    expect(fieldString(f[7]!)).toBe('héllo ▁ 😀');
  });

  it('encodes known byte patterns', () => {
    expect(Array.from(new ProtoWriter().uint(1, 150).finish())).toEqual([0x08, 0x96, 0x01]);
    expect(Array.from(new ProtoWriter().string(2, 'testing').finish())).toEqual([
      0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67,
    ]);
  });

  it('fails cleanly on truncated or malformed input', () => {
    const good = new ProtoWriter().string(1, 'abcdef').finish();
    expect(() => [...readFields(good.subarray(0, good.length - 2))]).toThrow(/runs past the end/);
    expect(() => [...readFields(Uint8Array.of(0x08, 0x80))]).toThrow(/truncated varint/);
    expect(() => [...readFields(Uint8Array.of(0x0b))]).toThrow(/wire type 3/);
    expect(() => fieldString([...readFields(new ProtoWriter().uint(1, 1).finish())][0]!)).toThrow(/wire type/);
  });
});

function sampleModel(): SentencePieceModel {
  // Fields Tandem does not model (e.g. trainer input=1, character_coverage=10, a self_test_data
  // message=4) must survive a read/write cycle byte for byte.
  const trainerExtra = new ProtoWriter().string(1, 'corpus.txt').float(10, 0.9995).finish();
  const topExtra = new ProtoWriter().bytes(4, new ProtoWriter().string(1, 'x').finish()).finish();
  return {
    pieces: [
      { piece: '<unk>', score: 0, type: PieceType.UNKNOWN },
      { piece: '<s>', score: 0, type: PieceType.CONTROL },
      { piece: '</s>', score: 0, type: PieceType.CONTROL },
      { piece: '<think>', score: 0, type: PieceType.USER_DEFINED },
      { piece: '<0x00>', score: 0, type: PieceType.BYTE },
      { piece: '▁the', score: -0.5, type: PieceType.NORMAL },
      { piece: '天气', score: -1.25, type: PieceType.NORMAL },
      { piece: '😀', score: -3, type: PieceType.NORMAL },
      { piece: 'old', score: -4, type: PieceType.UNUSED },
    ],
    trainerSpec: {
      ...defaultTrainerSpec(),
      modelType: ModelType.BPE,
      vocabSize: 9,
      byteFallback: true,
      padId: -1,
      unkSurface: ' ⁇ ',
      unknownFields: trainerExtra,
    },
    normalizerSpec: {
      name: 'nmt_nfkc',
      precompiledCharsmap: Uint8Array.of(4, 0, 0, 0, 1, 2, 3, 4, 0),
      addDummyPrefix: false,
      removeExtraWhitespaces: false,
      escapeWhitespaces: true,
      unknownFields: new Uint8Array(0),
    },
    unknownFields: topExtra,
  };
}

describe('SentencePiece model proto', () => {
  it('writer → reader round-trips every field, known and unknown', () => {
    const model = sampleModel();
    const bytes = writeSentencePieceModel(model);
    const back = readSentencePieceModel(bytes);
    expect(back).toEqual(model);
    // And reading then writing is stable.
    expect(Buffer.compare(Buffer.from(writeSentencePieceModel(back)), Buffer.from(bytes))).toBe(0);
  });

  it('stores scores as float32', () => {
    const model = sampleModel();
    model.pieces[5]!.score = 0.1;
    const back = readSentencePieceModel(writeSentencePieceModel(model));
    expect(back.pieces[5]!.score).toBe(Math.fround(0.1));
  });

  it('round-trips the generated vocabulary', () => {
    const { pieces } = buildGeneratedVocab(1024);
    const model: SentencePieceModel = {
      pieces,
      trainerSpec: { ...defaultTrainerSpec(), modelType: ModelType.BPE, byteFallback: true },
      normalizerSpec: defaultNormalizerSpec(),
      unknownFields: new Uint8Array(0),
    };
    expect(readSentencePieceModel(writeSentencePieceModel(model))).toEqual(model);
  });

  it('reads missing fields as the proto2 defaults', () => {
    const piece = new ProtoWriter().string(1, 'a').finish(); // no score, no type
    const bytes = new ProtoWriter().bytes(1, piece).finish(); // no trainer/normalizer spec
    const m = readSentencePieceModel(bytes);
    expect(m.pieces).toEqual([{ piece: 'a', score: 0, type: PieceType.NORMAL }]);
    expect(m.trainerSpec).toMatchObject({ modelType: ModelType.UNIGRAM, unkId: 0, bosId: 1, eosId: 2, padId: -1, byteFallback: false });
    expect(m.normalizerSpec).toMatchObject({ addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true });
  });

  it('rejects files that are not models', () => {
    expect(() => readSentencePieceModel(new Uint8Array(0))).toThrow(/no pieces/);
    expect(() => readSentencePieceModel(new TextEncoder().encode('{"model": {}}'))).toThrow();
  });
});
