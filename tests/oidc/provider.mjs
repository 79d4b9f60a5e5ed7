// A real OpenID Connect provider (npm's oidc-provider) for Praxis's integration
// tests: client-credentials grant, JWT access tokens for resource indicators.
//   node provider.mjs config.json
// config.json: {port, issuer, keys: [private JWK], clients: [{client_id,
// client_secret, claims}], resources: {<resource>: {audience, ttl, alg}}}.
// Each client's `claims` go into its access tokens (extraTokenClaims).
// GET /_counts answers how often each path was served (the tests count JWKS fetches).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const claimsOf = Object.fromEntries(config.clients.map((c) => [c.client_id, c.claims]));

const provider = new Provider(config.issuer, {
  jwks: { keys: config.keys },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  clients: config.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
  })),
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      getResourceServerInfo: (ctx, resource) => {
        const server = config.resources[resource];
        if (!server) throw new errors.InvalidTarget();
        return {
          scope: '',
          audience: server.audience,
          accessTokenTTL: server.ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: server.alg } },
        };
      },
    },
  },
  extraTokenClaims: (ctx, token) => claimsOf[token.clientId],
});

// Errors of the provider's own making go to stderr, so a failing test shows why.
provider.on('server_error', (ctx, error) => console.error(error));

const counts = {};
const handle = provider.callback();
createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/_counts') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(counts));
    return;
  }
  counts[path] = (counts[path] || 0) + 1;
  handle(req, res);
}).listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider ${config.issuer} listening`);
});
