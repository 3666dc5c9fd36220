#!/usr/bin/env node
// The built CLI (npm run build); `npm install` builds it through the prepare script.
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  console.error(`mpc-wallet: needs Node.js 22 or later, this is ${process.version}; run it as "npx mpc-wallet ..." to use the project's own Node 22`)
  process.exit(1)
}
const { main } = await import('../dist/src/cli/index.js')
await main()
