/**
 * Preloaded (`node --import`) into a figway process under test: on SIGUSR2 it writes one
 * stderr line, `loaded-modules {"urls": [...], "builtins": [...]}`, naming every module
 * resolved so far (ES modules and CommonJS alike) and Node's own internal modules.
 */
import { registerHooks } from 'node:module'

const urls: string[] = []
registerHooks({
  resolve (specifier, context, next) {
    const resolved = next(specifier, context)
    urls.push(resolved.url)
    return resolved
  }
})
process.on('SIGUSR2', () => {
  process.stderr.write('loaded-modules ' + JSON.stringify({ urls, builtins: (process as unknown as { moduleLoadList: string[] }).moduleLoadList }) + '\n')
})
