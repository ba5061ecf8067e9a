'use strict';
// Drives the npm package `atlassian-crowd` (N1 in crowd-rest.md §10.1, the
// client Rocket.Chat's Crowd login derives from) through its public API
// against a Crowd server. See common.js for the environment and output.
//
// The package keeps its settings in a global, so only one client exists at
// a time: the steps with other application credentials come last.

const http = require('http');
const { config, load, step, rejects, cb, checkpoint, fatal, finish, expectStatus, expectLocation, checkTransport, sorted, assert } = require('./common');

const AtlassianCrowd = load('atlassian-crowd');

// The package writes a body ("{}") on some GET and DELETE requests without
// framing it (no Content-Length for the GET, "Content-Length: 0" for the
// DELETE). It dates from Node versions whose default agent closed the
// connection after each response, which discarded those bytes; since Node
// 19 the default agent keeps connections alive, and the stray bytes become
// the start of the next request on the connection, which any HTTP server
// (Go's, Tomcat's) rejects with 400. Restore the behaviour the package was
// written for: that is a client defect, not something a server can fix.
http.globalAgent = new http.Agent({ keepAlive: false });

function client(name, password) {
  return new AtlassianCrowd({ crowd: { base: config.url }, application: { name, password } });
}

const U = {
  name: 'npm1-nora',
  first: 'Nora',
  last: 'Nodeone',
  display: 'Nora Nodeone',
  email: 'npm1-nora@example.org',
  password: 'first-Secret-1',
  newPassword: 'second-Secret-2',
};
const PARENT = 'npm1-parent';
const CHILD = 'npm1-child';

async function main() {
  let crowd = client(config.app, config.password);

  // Connectivity: GET /config/cookie.
  await step('ping (config/cookie)', async () => {
    const res = await cb((done) => crowd.ping(done));
    assert.strictEqual(typeof res, 'object', 'cookie config is an object');
    assert.strictEqual(res.name, 'crowd.token_key', 'cookie name');
    assert.strictEqual(typeof res.secure, 'boolean', 'secure is a boolean');
  });

  // Reads of seeded users.
  await step('user.find alice', async () => {
    const u = await cb((done) => crowd.user.find('alice', done));
    assert.strictEqual(u.name, 'alice');
    assert.strictEqual(u['first-name'], 'Alice');
    assert.strictEqual(u['last-name'], 'Liddell');
    assert.strictEqual(u['display-name'], 'Alice Liddell');
    assert.strictEqual(u.email, 'alice@example.com');
    assert.strictEqual(u.active, true);
  });
  await step('user.find unknown -> USER_NOT_FOUND', async () => {
    await rejects(cb((done) => crowd.user.find('npm1-nobody', done)), 'USER_NOT_FOUND');
    expectStatus('GET', '/user', 404);
  });
  await step('user.active alice true, Bob false', async () => {
    assert.strictEqual(await cb((done) => crowd.user.active('alice', done)), true, 'alice');
    assert.strictEqual(await cb((done) => crowd.user.active('Bob', done)), false, 'Bob');
  });

  // Password authentication (POST /authentication).
  await step('user.authenticate good password', async () => {
    const u = await cb((done) => crowd.user.authenticate('alice', 'alice-pw', done));
    assert.strictEqual(u.name, 'alice');
    assert.strictEqual(u.email, 'alice@example.com');
  });
  await step('user.authenticate bad password -> INVALID_USER_AUTHENTICATION', async () => {
    await rejects(cb((done) => crowd.user.authenticate('alice', 'not-her-password', done)), 'INVALID_USER_AUTHENTICATION');
    expectStatus('POST', '/authentication', 400);
  });
  await step('user.authenticate unknown user -> USER_NOT_FOUND', async () => {
    await rejects(cb((done) => crowd.user.authenticate('npm1-nobody', 'whatever', done)), 'USER_NOT_FOUND');
    expectStatus('POST', '/authentication', 400);
  });
  await step('user.authenticate inactive Bob -> INACTIVE_ACCOUNT', async () => {
    await rejects(cb((done) => crowd.user.authenticate('Bob', 'Bob-pw', done)), 'INACTIVE_ACCOUNT');
  });

  // User lifecycle.
  await step('user.create (201)', async () => {
    await cb((done) => crowd.user.create(U.first, U.last, U.display, U.email, U.name, U.password, done));
    expectStatus('POST', '/user', 201);
    expectLocation('POST', '/user', `/rest/usermanagement/1/user?username=${U.name}`);
  });
  await step('user.create again -> INVALID_USER', async () => {
    await rejects(cb((done) => crowd.user.create(U.first, U.last, U.display, U.email, U.name, U.password, done)), 'INVALID_USER');
    expectStatus('POST', '/user', 400);
  });
  await step('user.find created user', async () => {
    const u = await cb((done) => crowd.user.find(U.name, done));
    assert.strictEqual(u.name, U.name);
    assert.strictEqual(u['first-name'], U.first);
    assert.strictEqual(u['last-name'], U.last);
    assert.strictEqual(u['display-name'], U.display);
    assert.strictEqual(u.email, U.email);
    assert.strictEqual(u.active, true);
  });
  await step('user.authenticate created user', async () => {
    const u = await cb((done) => crowd.user.authenticate(U.name, U.password, done));
    assert.strictEqual(u.name, U.name);
  });
  await step('user.changepassword (204)', async () => {
    await cb((done) => crowd.user.changepassword(U.name, U.newPassword, done));
    expectStatus('PUT', '/user/password', 204);
  });
  await step('user.authenticate new password', async () => {
    const u = await cb((done) => crowd.user.authenticate(U.name, U.newPassword, done));
    assert.strictEqual(u.name, U.name);
  });
  await step('user.authenticate old password -> INVALID_USER_AUTHENTICATION', async () => {
    await rejects(cb((done) => crowd.user.authenticate(U.name, U.password, done)), 'INVALID_USER_AUTHENTICATION');
  });

  // Attributes.
  await step('user.setAttributes (multi-valued and single)', async () => {
    await cb((done) => crowd.user.setAttributes(U.name, 'colour', ['red', 'green'], done));
    expectStatus('POST', '/user/attribute', 204);
    await cb((done) => crowd.user.setAttributes(U.name, 'shoe', '42', done));
    expectStatus('POST', '/user/attribute', 204);
  });
  await step('user.attributes', async () => {
    const a = await cb((done) => crowd.user.attributes(U.name, done));
    assert.deepStrictEqual(sorted(a.colour || []), ['green', 'red'], 'colour');
    assert.deepStrictEqual(a.shoe, ['42'], 'shoe');
  });
  await step('user.removeAttribute', async () => {
    await cb((done) => crowd.user.removeAttribute(U.name, 'shoe', done));
    expectStatus('DELETE', '/user/attribute', 204);
    const a = await cb((done) => crowd.user.attributes(U.name, done));
    assert.strictEqual(a.shoe, undefined, 'shoe is gone');
    assert.deepStrictEqual(sorted(a.colour || []), ['green', 'red'], 'colour is kept');
  });

  // Groups.
  await step('groups.create parent and child (201)', async () => {
    await cb((done) => crowd.groups.create(PARENT, 'npm1 parent group', done));
    expectStatus('POST', '/group', 201);
    expectLocation('POST', '/group', `/rest/usermanagement/1/group?groupname=${PARENT}`);
    await cb((done) => crowd.groups.create(CHILD, 'npm1 child group', done));
    expectStatus('POST', '/group', 201);
  });
  await step('groups.find', async () => {
    const g = await cb((done) => crowd.groups.find(PARENT, done));
    assert.strictEqual(g.name, PARENT);
    assert.strictEqual(g.description, 'npm1 parent group');
    assert.strictEqual(g.active, true);
    assert.strictEqual(g.type, 'GROUP');
    assert.strictEqual(await cb((done) => crowd.groups.active(CHILD, done)), true, 'child active');
  });
  await step('groups.find unknown -> GROUP_NOT_FOUND', async () => {
    await rejects(cb((done) => crowd.groups.find('npm1-nogroup', done)), 'GROUP_NOT_FOUND');
    expectStatus('GET', '/group', 404);
  });
  await step('groups.createNested (child into parent, 201)', async () => {
    await cb((done) => crowd.groups.createNested(PARENT, CHILD, 'npm1 child group', done));
    expectStatus('POST', '/group/child-group/direct', 201);
  });
  await step('groups.createNested missing child -> GROUP_NOT_FOUND (400)', async () => {
    await rejects(cb((done) => crowd.groups.createNested(PARENT, 'npm1-nogroup', '', done)), 'GROUP_NOT_FOUND');
    expectStatus('POST', '/group/child-group/direct', 400);
  });
  await step('groups.createNested missing parent -> GROUP_NOT_FOUND (404)', async () => {
    await rejects(cb((done) => crowd.groups.createNested('npm1-nogroup', CHILD, '', done)), 'GROUP_NOT_FOUND');
    expectStatus('POST', '/group/child-group/direct', 404);
  });
  await step('groups.addmember (201)', async () => {
    await cb((done) => crowd.groups.addmember(U.name, CHILD, done));
    expectStatus('POST', '/user/group/direct', 201);
  });
  await step('groups.addmember again -> MEMBERSHIP_ALREADY_EXISTS', async () => {
    await rejects(cb((done) => crowd.groups.addmember(U.name, CHILD, done)), 'MEMBERSHIP_ALREADY_EXISTS');
    expectStatus('POST', '/user/group/direct', 409);
  });
  await step('groups.addmember unknown group -> GROUP_NOT_FOUND (400)', async () => {
    await rejects(cb((done) => crowd.groups.addmember(U.name, 'npm1-nogroup', done)), 'GROUP_NOT_FOUND');
    expectStatus('POST', '/user/group/direct', 400);
  });
  await step('groups.directmembers', async () => {
    assert.deepStrictEqual(await cb((done) => crowd.groups.directmembers(CHILD, done)), [U.name], CHILD);
    assert.deepStrictEqual(await cb((done) => crowd.groups.directmembers(PARENT, done)), [], PARENT);
  });
  await step('groups.nestedmembers', async () => {
    assert.deepStrictEqual(await cb((done) => crowd.groups.nestedmembers(PARENT, done)), [U.name], PARENT);
    assert.deepStrictEqual(await cb((done) => crowd.groups.nestedmembers(CHILD, done)), [U.name], CHILD);
  });
  await step('user.groups (nested)', async () => {
    const gs = await cb((done) => crowd.user.groups(U.name, done));
    assert.deepStrictEqual(sorted(gs), [CHILD, PARENT]);
  });
  await step('user.groups of seeded alice (nested, aggregated)', async () => {
    const gs = await cb((done) => crowd.user.groups('alice', done));
    // alice (staff) is in devs; devs is in staff, staff in all.
    assert.deepStrictEqual(sorted(gs), ['all', 'devs', 'staff']);
  });

  // CQL search (GET /search?restriction=...).
  const names = (res) => (res.users || res.groups || []).map((e) => e.name);
  await step('search user email=...', async () => {
    const res = await cb((done) => crowd.search('user', `email=${U.email}`, done));
    assert.deepStrictEqual(names(res), [U.name]);
  });
  await step('search user name="car*"', async () => {
    const res = await cb((done) => crowd.search('user', 'name="car*"', done));
    assert.deepStrictEqual(names(res), ['carol']);
  });
  await step('search user firstName=Carol', async () => {
    const res = await cb((done) => crowd.search('user', 'firstName=Carol', done));
    assert.deepStrictEqual(names(res), ['carol']);
  });
  await step('search user firstName=Nora and lastName=Nodeone', async () => {
    const res = await cb((done) => crowd.search('user', 'firstName=Nora and lastName=Nodeone', done));
    assert.deepStrictEqual(names(res), [U.name]);
  });
  await step('search group name="npm1-*"', async () => {
    const res = await cb((done) => crowd.search('group', 'name="npm1-*"', done));
    assert.deepStrictEqual(names(res), [CHILD, PARENT]);
  });

  // Let the Go test look at the store.
  await checkpoint('written', {
    user: { name: U.name, firstName: U.first, lastName: U.last, displayName: U.display, email: U.email,
      password: U.newPassword, oldPassword: U.password, attributes: { colour: ['green', 'red'] }, absentAttributes: ['shoe'] },
    groups: [{ name: PARENT, description: 'npm1 parent group', children: [CHILD], users: [] },
      { name: CHILD, description: 'npm1 child group', children: [], users: [U.name] }],
  });

  // SSO sessions.
  let token = null;
  await step('session.create', async () => {
    token = await cb((done) => crowd.session.create(U.name, U.newPassword, '127.0.0.1', done));
    assert.strictEqual(typeof token, 'string', 'token is a string');
    assert.ok(token.length > 0, 'token is not empty');
    expectStatus('POST', '/session', 201);
    expectLocation('POST', '/session', `/rest/usermanagement/1/session/${token}`);
  });
  await step('session.find (user fields)', async () => {
    const s = await cb((done) => crowd.session.find(token, done));
    assert.strictEqual(s.token, token, 'token');
    assert.ok(s.user, 'session has a user');
    assert.strictEqual(s.user.name, U.name);
    assert.strictEqual(s.user.email, U.email);
    assert.strictEqual(s.user['first-name'], U.first);
    assert.strictEqual(s.user['last-name'], U.last);
    assert.strictEqual(s.user['display-name'], U.display);
    assert.strictEqual(s.user.active, true);
  });
  await step('session.authenticate same remote_address', async () => {
    const s = await cb((done) => crowd.session.authenticate(token, '127.0.0.1', done));
    assert.strictEqual(s.token, token);
    assert.strictEqual(s.user && s.user.name, U.name);
  });
  await step('session.authenticate other remote_address -> INVALID_SSO_TOKEN', async () => {
    await rejects(cb((done) => crowd.session.authenticate(token, '127.0.0.2', done)), 'INVALID_SSO_TOKEN');
  });
  await step('session.destroy (204)', async () => {
    await cb((done) => crowd.session.destroy(token, done));
    expectStatus('DELETE', `/session/${token}`, 204);
  });
  await step('session.find after destroy -> INVALID_SSO_TOKEN', async () => {
    await rejects(cb((done) => crowd.session.find(token, done)), 'INVALID_SSO_TOKEN');
  });
  await step('session.create bad password -> INVALID_USER_AUTHENTICATION', async () => {
    await rejects(cb((done) => crowd.session.create(U.name, 'wrong', done)), 'INVALID_USER_AUTHENTICATION');
    expectStatus('POST', '/session', 400);
  });
  await step('session.create inactive Bob -> INACTIVE_ACCOUNT', async () => {
    await rejects(cb((done) => crowd.session.create('Bob', 'Bob-pw', done)), 'INACTIVE_ACCOUNT');
  });

  // Cleanup (each step runs whatever happened before).
  await step('groups.removemember (204)', async () => {
    await cb((done) => crowd.groups.removemember(U.name, CHILD, done));
    expectStatus('DELETE', '/user/group/direct', 204);
    assert.deepStrictEqual(await cb((done) => crowd.groups.directmembers(CHILD, done)), []);
    assert.deepStrictEqual(await cb((done) => crowd.user.groups(U.name, done)), []);
  });
  await step('groups.remove child and parent (204)', async () => {
    await cb((done) => crowd.groups.remove(CHILD, done));
    expectStatus('DELETE', '/group', 204);
    await cb((done) => crowd.groups.remove(PARENT, done));
    expectStatus('DELETE', '/group', 204);
    await rejects(cb((done) => crowd.groups.find(PARENT, done)), 'GROUP_NOT_FOUND');
    await rejects(cb((done) => crowd.groups.find(CHILD, done)), 'GROUP_NOT_FOUND');
  });
  await step('user.remove (204)', async () => {
    await cb((done) => crowd.user.remove(U.name, done));
    expectStatus('DELETE', '/user', 204);
    await rejects(cb((done) => crowd.user.find(U.name, done)), 'USER_NOT_FOUND');
  });
  await step('user.remove again -> USER_NOT_FOUND', async () => {
    await rejects(cb((done) => crowd.user.remove(U.name, done)), 'USER_NOT_FOUND');
    expectStatus('DELETE', '/user', 404);
  });

  // Other application credentials (each replaces the package's global
  // settings, so these run last).
  await step('wrong application password -> APPLICATION_ACCESS_DENIED', async () => {
    crowd = client(config.app, config.password + '-wrong');
    await rejects(cb((done) => crowd.ping(done)), 'APPLICATION_ACCESS_DENIED');
    expectStatus('GET', '/config/cookie', 401);
  });
  await step('unknown application -> APPLICATION_ACCESS_DENIED', async () => {
    crowd = client('npm1-no-such-app', 'x');
    await rejects(cb((done) => crowd.user.find('alice', done)), 'APPLICATION_ACCESS_DENIED');
  });
  if (config.readonlyApp) {
    await step('read-only application user.create -> APPLICATION_PERMISSION_DENIED', async () => {
      crowd = client(config.readonlyApp.name, config.readonlyApp.password);
      await cb((done) => crowd.user.find('alice', done));
      await rejects(cb((done) => crowd.user.create('X', 'Y', 'X Y', 'x@example.org', 'npm1-ro', 'pw-pw-pw', done)),
        'APPLICATION_PERMISSION_DENIED');
      expectStatus('POST', '/user', 403);
    });
  }
  if (config.deniedApp) {
    await step('application refused from this address -> APPLICATION_PERMISSION_DENIED', async () => {
      crowd = client(config.deniedApp.name, config.deniedApp.password);
      await rejects(cb((done) => crowd.ping(done)), 'APPLICATION_PERMISSION_DENIED');
      expectStatus('GET', '/config/cookie', 403);
    });
  }

  // Transport conventions over every exchange above, the refused ones
  // included (crowd-rest.md §1 T2, T6, T7).
  await step('transport: version header on every response, Content-Type exactly application/json', () => checkTransport(true));
}

main().then(finish, (err) => {
  fatal(err);
  finish();
});
