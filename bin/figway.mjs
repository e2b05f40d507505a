#!/usr/bin/env node
// The installed `figway` command: runs the compiled CLI from dist/ when present (a published
// package), else the TypeScript sources directly (a checkout, on Node 24's type stripping).
import { existsSync } from 'node:fs'
const compiled = new URL('../dist/cli.js', import.meta.url)
await import(existsSync(compiled) ? compiled.href : new URL('../src/cli.ts', import.meta.url).href)
