/**
 * A minimal HTTP/1.1 response parser for the paced load generator (bench/lib/paced-worker.ts):
 * it reads the status line and the few headers that frame a response (Content-Length,
 * Transfer-Encoding, Connection; names case-insensitive), skips the body by its length, by
 * chunks (extensions and trailers allowed) or up to the end of the connection, and reports
 * each complete response's status. Bytes may arrive split anywhere; bytes left over after a
 * response are parsed as the start of the next one. It keeps nothing of the body.
 *
 * Not handled, since the generator only sends GET: responses to HEAD, and 101 upgrades
 * (reported as an error).
 */

const STATUS = 0
const HEADER = 1
const BODY_LENGTH = 2
const CHUNK_SIZE = 3
const CHUNK_DATA = 4
const CHUNK_END = 5
const TRAILER = 6
const BODY_TO_EOF = 7

const CR = 13
const LF = 10
/** The longest status, header, chunk-size or trailer line accepted. */
const MAX_LINE = 64 * 1024

export class ParseError extends Error {
  override name = 'ParseError'
}

export class ResponseParser {
  /** Called as each response ends: its status and whether the connection stays open. */
  onResponse: (status: number, keepAlive: boolean) => void
  #state = STATUS
  /** The start of a line that has not ended yet. */
  #line: Buffer | undefined
  #status = 0
  #http10 = false
  #close = false
  #keepAliveHeader = false
  #chunked = false
  #otherCoding = false
  #length = -1
  /** Body (or chunk) bytes still to skip. */
  #left = 0

  constructor (onResponse: (status: number, keepAlive: boolean) => void) {
    this.onResponse = onResponse
  }

  /** True between responses (no partial response buffered). */
  get idle (): boolean { return this.#state === STATUS && this.#line === undefined }

  /** Parses `buf`; throws ParseError on a malformed response. */
  feed (buf: Buffer): void {
    let pos = 0
    const end = buf.length
    while (pos < end) {
      const state = this.#state
      if (state === BODY_LENGTH || state === CHUNK_DATA) {
        const n = Math.min(this.#left, end - pos)
        pos += n
        this.#left -= n
        if (this.#left === 0) {
          if (state === BODY_LENGTH) this.#complete()
          else this.#state = CHUNK_END
        }
        continue
      }
      if (state === BODY_TO_EOF) return
      // A line-oriented state: find the end of the line.
      const nl = buf.indexOf(LF, pos)
      if (nl === -1) {
        const rest = buf.subarray(pos)
        this.#line = this.#line === undefined ? Buffer.from(rest) : Buffer.concat([this.#line, rest])
        if (this.#line.length > MAX_LINE) throw new ParseError('line too long')
        return
      }
      let line = this.#line === undefined ? buf.subarray(pos, nl) : Buffer.concat([this.#line, buf.subarray(pos, nl)])
      this.#line = undefined
      pos = nl + 1
      if (line.length > MAX_LINE) throw new ParseError('line too long')
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
      this.#lineDone(line)
    }
  }

  /** The connection ended: completes a response delimited by the end of the connection. */
  end (): boolean {
    if (this.#state !== BODY_TO_EOF) return false
    this.#complete()
    return true
  }

  #lineDone (line: Buffer): void {
    switch (this.#state) {
      case STATUS: {
        // Tolerate empty lines before a status line (RFC 9112 §2.2).
        if (line.length === 0) return
        // "HTTP/1.1 200 OK": the version, a space, three digits.
        if (line.length < 12 || line[0] !== 0x48 || line[1] !== 0x54 || line[2] !== 0x54 || line[3] !== 0x50 || line[4] !== 0x2f || line[8] !== 0x20) {
          throw new ParseError('bad status line')
        }
        const d0 = line[9]! - 48
        const d1 = line[10]! - 48
        const d2 = line[11]! - 48
        if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || (line.length > 12 && line[12] !== 0x20)) throw new ParseError('bad status code')
        this.#status = d0 * 100 + d1 * 10 + d2
        this.#http10 = line[5] === 0x31 && line[7] === 0x30 // HTTP/1.0
        this.#close = false
        this.#keepAliveHeader = false
        this.#chunked = false
        this.#otherCoding = false
        this.#length = -1
        this.#state = HEADER
        return
      }
      case HEADER:
        if (line.length === 0) { this.#headersDone(); return }
        this.#header(line)
        return
      case CHUNK_SIZE: {
        let size = 0
        let digits = 0
        let i = 0
        for (; i < line.length; i++) {
          const c = line[i]!
          let v: number
          if (c >= 48 && c <= 57) v = c - 48
          else if (c >= 97 && c <= 102) v = c - 87
          else if (c >= 65 && c <= 70) v = c - 55
          else break
          size = size * 16 + v
          digits++
          if (digits > 12) throw new ParseError('chunk too large')
        }
        // After the digits: optional whitespace and chunk extensions (";name=value").
        while (i < line.length && (line[i] === 0x20 || line[i] === 0x09)) i++
        if (digits === 0 || (i < line.length && line[i] !== 0x3b)) throw new ParseError('bad chunk size')
        if (size === 0) this.#state = TRAILER
        else { this.#left = size; this.#state = CHUNK_DATA }
        return
      }
      case CHUNK_END:
        if (line.length !== 0) throw new ParseError('chunk not followed by CRLF')
        this.#state = CHUNK_SIZE
        return
      case TRAILER:
        if (line.length === 0) this.#complete()
        return
    }
  }

  #header (line: Buffer): void {
    // Only Content-Length, Transfer-Encoding and Connection matter: look at the rest no further.
    const c = line[0]! | 0x20
    if (c !== 0x63 && c !== 0x74) return // 'c' or 't'
    const colon = line.indexOf(0x3a)
    if (colon <= 0) throw new ParseError('bad header line')
    const name = line.toString('latin1', 0, colon).toLowerCase()
    if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection') return
    const value = line.toString('latin1', colon + 1).trim().toLowerCase()
    if (name === 'content-length') {
      if (!/^\d+$/.test(value)) throw new ParseError('bad content-length')
      const n = Number(value)
      if (this.#length !== -1 && this.#length !== n) throw new ParseError('conflicting content-length')
      this.#length = n
    } else if (name === 'transfer-encoding') {
      // The last coding decides: chunked frames the body, anything else runs to the end.
      const codings = value.split(',')
      const last = codings[codings.length - 1]!.trim()
      this.#chunked = last === 'chunked'
      this.#otherCoding = !this.#chunked
    } else {
      for (const token of value.split(',')) {
        const t = token.trim()
        if (t === 'close') this.#close = true
        else if (t === 'keep-alive') this.#keepAliveHeader = true
      }
    }
  }

  #headersDone (): void {
    const status = this.#status
    if (status < 200) {
      if (status === 101) throw new ParseError('unexpected upgrade')
      this.#state = STATUS // 1xx: an interim response; the final one follows
      return
    }
    if (status === 204 || status === 304) { this.#complete(); return }
    if (this.#chunked) { this.#state = CHUNK_SIZE; return }
    if (this.#otherCoding) { this.#state = BODY_TO_EOF; return }
    if (this.#length === -1) { this.#state = BODY_TO_EOF; return }
    if (this.#length === 0) { this.#complete(); return }
    this.#left = this.#length
    this.#state = BODY_LENGTH
  }

  #complete (): void {
    const eof = this.#state === BODY_TO_EOF
    this.#state = STATUS
    const keepAlive = !eof && !this.#close && (!this.#http10 || this.#keepAliveHeader)
    this.onResponse(this.#status, keepAlive)
  }
}
