/**
 * The transcoder's request error, in a module of its own so that the pipeline and explain
 * can recognise it without loading the transcoder (see support.ts).
 */
/** A request that cannot be transcoded; the pipeline answers 400 `bad_transcode_request`. */
export class TranscodeError extends Error {
  readonly code = 'bad_transcode_request'
  /** The offending field as a dotted path of the JSON keys given, when known. */
  readonly field: string | undefined
  constructor (message: string, field?: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'TranscodeError'
    this.field = field
  }
}
