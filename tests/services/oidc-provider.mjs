// A real OpenID Connect provider on loopback for the tests (npm oidc-provider).
//
// Usage: node oidc-provider.mjs PORT ACCOUNTS.json
// Listens on 127.0.0.1:PORT, issuer http://127.0.0.1:PORT. Clients register themselves
// (dynamic client registration, POST /reg). Accounts come from ACCOUNTS.json
// ({"<login>": {claims...}}); the development login page accepts any password.
// Test-only control routes (loopback only, never in a deployment):
//   PUT /test/accounts/<login>   replace an account's claims (JSON body)
//   DELETE /test/accounts/<login> disable an account (its tokens stop working)
//   GET /test/events              counts of token grants, by grant type and account
import http from 'node:http';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const accounts = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const accessTokenTtl = Number(process.env.OIDC_ACCESS_TOKEN_TTL || 3600);
const issuer = `http://127.0.0.1:${port}`;
const events = {};

const provider = new Provider(issuer, {
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...accounts[id] };
      },
    };
  },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups', 'resource_access', 'siret'],
    // ProConnect's scopes, one per claim
    given_name: ['given_name'],
    usual_name: ['usual_name'],
    uid: ['uid'],
    siret: ['siret'],
    idp_id: ['idp_id'],
    organization_label: ['organization_label'],
  },
  scopes: ['openid', 'profile', 'email', 'groups', 'offline_access', 'given_name', 'usual_name',
    'uid', 'siret', 'idp_id', 'organization_label'],
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    jwtUserinfo: { enabled: true },
  },
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  },
  ttl: {
    AccessToken: accessTokenTtl,
    Grant: 3600,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 3600,
    Session: 3600,
  },
  cookies: { keys: [process.env.OIDC_COOKIE_KEY || 'test-only-cookie-key'] },
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // first-party clients: the grant is given at login, no consent page
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email groups offline_access given_name usual_name uid siret idp_id organization_label');
    await grant.save();
    return grant;
  },
});

provider.on('grant.success', (ctx) => {
  const type = ctx.oidc.params.grant_type;
  const account = ctx.oidc.entities.Account?.accountId || 'unknown';
  const key = `${type}:${account}`;
  events[key] = (events[key] || 0) + 1;
});

// the built-in pages import a web font from the internet: keep the browser on loopback
provider.use(async (ctx, next) => {
  await next();
  if (typeof ctx.body === 'string' && ctx.body.includes('@import')) {
    ctx.body = ctx.body.replace(/@import url\([^)]*\);?/g, '');
  }
});

function control(req, res) {
  const match = req.url.match(/^\/test\/accounts\/([A-Za-z0-9._@-]+)$/);
  const reply = (status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.url === '/test/events' && req.method === 'GET') return reply(200, events);
  if (!match) return reply(404, { error: 'unknown test route' });
  const login = match[1];
  if (req.method === 'DELETE') {
    delete accounts[login];
    return reply(200, { deleted: login });
  }
  if (req.method === 'PUT') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      accounts[login] = JSON.parse(body);
      reply(200, { updated: login });
    });
    return undefined;
  }
  return reply(405, { error: 'method not allowed' });
}

const callback = provider.callback();
http.createServer((req, res) => {
  if (req.url.startsWith('/test/')) return control(req, res);
  return callback(req, res);
}).listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
