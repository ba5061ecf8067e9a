'use strict';
// Drives the npm package `atlassian-crowd-client` 2.x (N2 in crowd-rest.md
// §10.2) through its public, promise-based API against a Crowd server. See
// common.js for the environment and output.

const { config, load, step, rejects, checkpoint, fatal, finish, expectStatus, expectLocation, checkTransport, sorted, assert } = require('./common');

const CrowdClient = load('atlassian-crowd-client');
const User = load('atlassian-crowd-client/lib/models/user');
const Group = load('atlassian-crowd-client/lib/models/group');
const Attributes = load('atlassian-crowd-client/lib/models/attributes');
const ValidationFactors = load('atlassian-crowd-client/lib/models/validation-factors');

function client(name, password) {
  return new CrowdClient({ baseUrl: config.url, application: { name, password } });
}

const U = {
  name: 'npm2-nina',
  renamed: 'npm2-nina-renamed',
  first: 'Nina',
  last: 'Nodetwo',
  display: 'Nina Nodetwo',
  newDisplay: 'Nina N. Nodetwo',
  email: 'npm2-nina@example.org',
  password: 'first-Secret-1',
  newPassword: 'second-Secret-2',
};
const PARENT = 'npm2-parent';
const CHILD = 'npm2-child';
const PARENT_DESC = 'npm2 parent group';
const PARENT_DESC2 = 'npm2 parent group, updated';
const CHILD_DESC = 'npm2 child group';

// rejectsStatus asserts that p fails and that the last method+resource
// exchange had the given HTTP status.
async function rejectsStatus(p, method, resource, status) {
  let res;
  try {
    res = await p;
  } catch (err) {
    expectStatus(method, resource, status);
    return err;
  }
  throw new Error(`expected HTTP ${status}, got success: ${JSON.stringify(res)}`);
}

async function main() {
  const crowd = client(config.app, config.password);

  await step('config.cookie', async () => {
    const c = await crowd.config.cookie();
    assert.strictEqual(c.name, 'crowd.token_key', 'cookie name');
    assert.strictEqual(typeof c.secure, 'boolean', 'secure is a boolean');
  });

  // Reads of seeded users.
  await step('user.get alice', async () => {
    const u = await crowd.user.get('alice');
    assert.ok(u instanceof User, 'a User');
    assert.strictEqual(u.username, 'alice');
    assert.strictEqual(u.firstname, 'Alice');
    assert.strictEqual(u.lastname, 'Liddell');
    assert.strictEqual(u.displayname, 'Alice Liddell');
    assert.strictEqual(u.email, 'alice@example.com');
    assert.strictEqual(u.active, true);
  });
  await step('user.get Bob (inactive)', async () => {
    const u = await crowd.user.get('Bob');
    assert.strictEqual(u.username, 'Bob');
    assert.strictEqual(u.active, false);
  });
  await step('user.get unknown -> USER_NOT_FOUND', async () => {
    await rejects(crowd.user.get('npm2-nobody'), 'USER_NOT_FOUND');
    expectStatus('GET', '/user', 404);
  });

  // Password authentication.
  await step('authentication.authenticate good password', async () => {
    const u = await crowd.authentication.authenticate('alice', 'alice-pw');
    assert.strictEqual(u.username, 'alice');
    assert.strictEqual(u.email, 'alice@example.com');
    expectStatus('POST', '/authentication', 200);
  });
  await step('authentication.authenticate bad password -> INVALID_USER_AUTHENTICATION', async () => {
    await rejects(crowd.authentication.authenticate('alice', 'not-her-password'), 'INVALID_USER_AUTHENTICATION');
    expectStatus('POST', '/authentication', 400);
  });
  await step('authentication.authenticate unknown user -> USER_NOT_FOUND', async () => {
    await rejects(crowd.authentication.authenticate('npm2-nobody', 'whatever'), 'USER_NOT_FOUND');
    expectStatus('POST', '/authentication', 400);
  });
  await step('authentication.authenticate inactive Bob -> INACTIVE_ACCOUNT', async () => {
    await rejects(crowd.authentication.authenticate('Bob', 'Bob-pw'), 'INACTIVE_ACCOUNT');
    expectStatus('POST', '/authentication', 400);
  });

  // User lifecycle.
  await step('user.create (201, created user in the body)', async () => {
    const u = await crowd.user.create(new User(U.first, U.last, U.display, U.email, U.name, U.password));
    expectStatus('POST', '/user', 201);
    expectLocation('POST', '/user', `/rest/usermanagement/1/user?username=${U.name}`);
    assert.strictEqual(u.username, U.name);
    assert.strictEqual(u.firstname, U.first);
    assert.strictEqual(u.lastname, U.last);
    assert.strictEqual(u.displayname, U.display);
    assert.strictEqual(u.email, U.email);
    assert.strictEqual(u.active, true);
    assert.strictEqual(u.password, undefined, 'no password echoed');
  });
  await step('user.create again -> INVALID_USER', async () => {
    await rejects(crowd.user.create(new User(U.first, U.last, U.display, U.email, U.name, U.password)), 'INVALID_USER');
    expectStatus('POST', '/user', 400);
  });
  await step('user.get created user', async () => {
    const u = await crowd.user.get(U.name);
    assert.strictEqual(u.username, U.name);
    assert.strictEqual(u.displayname, U.display);
    assert.strictEqual(u.email, U.email);
    assert.strictEqual(u.active, true);
  });
  await step('user.update (204)', async () => {
    const u = await crowd.user.update(U.name, new User(U.first, U.last, U.newDisplay, U.email, U.name));
    expectStatus('PUT', '/user', 204);
    assert.strictEqual(u.displayname, U.newDisplay);
    assert.strictEqual(u.firstname, U.first);
    assert.strictEqual(u.active, true);
  });
  await step('user.rename and back', async () => {
    const r = await crowd.user.rename(U.name, U.renamed);
    expectStatus('POST', '/user/rename', 200);
    assert.strictEqual(r && r.name, U.renamed, 'renamed user in the body');
    assert.strictEqual((await crowd.user.get(U.renamed)).email, U.email);
    await rejects(crowd.user.get(U.name), 'USER_NOT_FOUND');
    await crowd.user.rename(U.renamed, U.name);
    assert.strictEqual((await crowd.user.get(U.name)).email, U.email);
  });
  await step('user.password.set (204)', async () => {
    await crowd.user.password.set(U.name, U.newPassword);
    expectStatus('PUT', '/user/password', 204);
  });
  await step('authenticate with the new password', async () => {
    const u = await crowd.authentication.authenticate(U.name, U.newPassword);
    assert.strictEqual(u.username, U.name);
  });
  await step('authenticate with the old password -> INVALID_USER_AUTHENTICATION', async () => {
    await rejects(crowd.authentication.authenticate(U.name, U.password), 'INVALID_USER_AUTHENTICATION');
  });

  // Attributes (this package stores each value JSON-encoded).
  await step('user.attributes.set', async () => {
    const a = await crowd.user.attributes.set(U.name, new Attributes({ colour: 'red', shoe: 42 }));
    expectStatus('POST', '/user/attribute', 204);
    assert.deepStrictEqual(a.attributes, { colour: 'red', shoe: 42 });
  });
  await step('user.attributes.list', async () => {
    const a = await crowd.user.attributes.list(U.name);
    assert.deepStrictEqual(a.attributes, { colour: 'red', shoe: 42 });
  });
  await step('user.attributes.remove (204)', async () => {
    await crowd.user.attributes.remove(U.name, 'shoe');
    expectStatus('DELETE', '/user/attribute', 204);
    const a = await crowd.user.attributes.list(U.name);
    assert.deepStrictEqual(a.attributes, { colour: 'red' });
  });
  await step('user.get with attributes', async () => {
    const u = await crowd.user.get(U.name, true);
    assert.deepStrictEqual(u.attributes, { colour: 'red' });
  });

  // Groups.
  await step('group.create parent and child (201)', async () => {
    const p = await crowd.group.create(new Group(PARENT, PARENT_DESC));
    expectStatus('POST', '/group', 201);
    assert.strictEqual(p.groupname, PARENT);
    assert.strictEqual(p.description, PARENT_DESC);
    assert.strictEqual(p.active, true);
    const c = await crowd.group.create(new Group(CHILD, CHILD_DESC));
    assert.strictEqual(c.groupname, CHILD);
  });
  await step('group.create again -> INVALID_GROUP', async () => {
    await rejects(crowd.group.create(new Group(PARENT, PARENT_DESC)), 'INVALID_GROUP');
    expectStatus('POST', '/group', 400);
  });
  await step('group.get unknown -> GROUP_NOT_FOUND', async () => {
    await rejects(crowd.group.get('npm2-nogroup'), 'GROUP_NOT_FOUND');
    expectStatus('GET', '/group', 404);
  });
  await step('group.update (200, group in the body)', async () => {
    const g = await crowd.group.update(PARENT, new Group(PARENT, PARENT_DESC2));
    expectStatus('PUT', '/group', 200);
    assert.strictEqual(g.groupname, PARENT);
    assert.strictEqual(g.description, PARENT_DESC2);
    assert.strictEqual((await crowd.group.get(PARENT)).description, PARENT_DESC2);
  });
  await step('group.attributes set, list, remove', async () => {
    const a = await crowd.group.attributes.set(PARENT, new Attributes({ tier: 'gold' }));
    assert.deepStrictEqual(a.attributes, { tier: 'gold' });
    await crowd.group.attributes.remove(PARENT, 'tier');
    expectStatus('DELETE', '/group/attribute', 204);
    assert.deepStrictEqual((await crowd.group.attributes.list(PARENT)).attributes, {});
  });
  await step('group.children.add (201)', async () => {
    await crowd.group.children.add(PARENT, CHILD);
    expectStatus('POST', '/group/child-group/direct', 201);
  });
  await step('group.children.add missing child -> GROUP_NOT_FOUND (400)', async () => {
    await rejects(crowd.group.children.add(PARENT, 'npm2-nogroup'), 'GROUP_NOT_FOUND');
    expectStatus('POST', '/group/child-group/direct', 400);
  });
  await step('group.children list and get', async () => {
    assert.deepStrictEqual(await crowd.group.children.list(PARENT), [CHILD], 'direct');
    assert.deepStrictEqual(await crowd.group.children.list(PARENT, true), [CHILD], 'nested');
    assert.deepStrictEqual(await crowd.group.children.list(CHILD), [], 'child has none');
    const g = await crowd.group.children.get(PARENT, CHILD);
    assert.strictEqual(g && g.name, CHILD);
  });
  await step('group.parents list and get', async () => {
    assert.deepStrictEqual(await crowd.group.parents.list(CHILD), [PARENT], 'direct');
    assert.deepStrictEqual(await crowd.group.parents.list(CHILD, true), [PARENT], 'nested');
    assert.strictEqual(await crowd.group.parents.get(CHILD, PARENT), PARENT);
  });
  await step('group.users.add (201)', async () => {
    await crowd.group.users.add(CHILD, U.name);
    expectStatus('POST', '/group/user/direct', 201);
  });
  await step('group.users.add again -> MEMBERSHIP_ALREADY_EXISTS', async () => {
    await rejects(crowd.group.users.add(CHILD, U.name), 'MEMBERSHIP_ALREADY_EXISTS');
    expectStatus('POST', '/group/user/direct', 409);
  });
  await step('group.users.add unknown user -> USER_NOT_FOUND (400)', async () => {
    await rejects(crowd.group.users.add(CHILD, 'npm2-nobody'), 'USER_NOT_FOUND');
    expectStatus('POST', '/group/user/direct', 400);
  });
  await step('group.users list (direct, nested, expanded)', async () => {
    assert.deepStrictEqual(await crowd.group.users.list(CHILD), [U.name], 'child direct');
    assert.deepStrictEqual(await crowd.group.users.list(PARENT), [], 'parent direct');
    assert.deepStrictEqual(await crowd.group.users.list(PARENT, true), [U.name], 'parent nested');
    const full = await crowd.group.users.list(CHILD, false, 0, 1000, true);
    assert.strictEqual(full.length, 1, 'one expanded user');
    assert.strictEqual(full[0].username, U.name);
    assert.strictEqual(full[0].email, U.email);
  });
  await step('group.users get (direct, nested, not a direct member -> 404)', async () => {
    assert.strictEqual(await crowd.group.users.get(CHILD, U.name), U.name);
    assert.strictEqual(await crowd.group.users.get(PARENT, U.name, true), U.name);
    await rejectsStatus(crowd.group.users.get(PARENT, U.name), 'GET', '/group/user/direct', 404);
  });
  await step('user.groups list (direct, nested)', async () => {
    assert.deepStrictEqual(await crowd.user.groups.list(U.name), [CHILD], 'direct');
    assert.deepStrictEqual(sorted(await crowd.user.groups.list(U.name, true)), [CHILD, PARENT], 'nested');
  });
  await step('user.groups get (direct, nested, not a direct member -> MEMBERSHIP_NOT_FOUND)', async () => {
    assert.strictEqual(await crowd.user.groups.get(U.name, CHILD), CHILD);
    assert.strictEqual(await crowd.user.groups.get(U.name, PARENT, true), PARENT);
    await rejects(crowd.user.groups.get(U.name, PARENT), 'MEMBERSHIP_NOT_FOUND');
    expectStatus('GET', '/user/group/direct', 404);
  });
  await step('user.groups add and remove (201, 204)', async () => {
    await crowd.user.groups.add(U.name, PARENT);
    expectStatus('POST', '/user/group/direct', 201);
    assert.deepStrictEqual(sorted(await crowd.user.groups.list(U.name)), [CHILD, PARENT], 'after add');
    await crowd.user.groups.remove(U.name, PARENT);
    expectStatus('DELETE', '/user/group/direct', 204);
    assert.deepStrictEqual(await crowd.user.groups.list(U.name), [CHILD], 'after remove');
  });
  await step('group.membership (XML)', async () => {
    const xml = await crowd.group.membership();
    assert.strictEqual(typeof xml, 'string', 'raw XML');
    const block = (g) => {
      const m = xml.match(new RegExp(`<membership[^>]*\\sgroup="${g}"[^>]*>([\\s\\S]*?)</membership>`));
      assert.ok(m, `a <membership group="${g}"> element`);
      return m[1];
    };
    assert.match(block(PARENT), new RegExp(`<group[^>]*\\sname="${CHILD}"`), 'parent lists the child group');
    assert.match(block(CHILD), new RegExp(`<user[^>]*\\sname="${U.name}"`), 'child lists the user');
  });

  // CQL search.
  await step('search.user email=...', async () => {
    assert.deepStrictEqual(await crowd.search.user(`email=${U.email}`), [U.name]);
  });
  await step('search.user name="car*"', async () => {
    assert.deepStrictEqual(await crowd.search.user('name="car*"'), ['carol']);
  });
  await step('search.user firstName=Carol', async () => {
    assert.deepStrictEqual(await crowd.search.user('firstName=Carol'), ['carol']);
  });
  await step('search.user firstName=Nina, expanded', async () => {
    const us = await crowd.search.user('firstName=Nina', true);
    assert.strictEqual(us.length, 1);
    assert.strictEqual(us[0].username, U.name);
    assert.strictEqual(us[0].email, U.email);
    assert.strictEqual(us[0].displayname, U.newDisplay);
  });
  await step('search.group name="npm2-*"', async () => {
    assert.deepStrictEqual(await crowd.search.group('name="npm2-*"'), [CHILD, PARENT]);
  });
  await step('search.group name=npm2-parent and active=true', async () => {
    assert.deepStrictEqual(await crowd.search.group(`name=${PARENT} and active=true`), [PARENT]);
  });
  await step('search.user invalid CQL -> ILLEGAL_ARGUMENT', async () => {
    await rejects(crowd.search.user('(firstName=Nina'), 'ILLEGAL_ARGUMENT');
    expectStatus('GET', '/search', 400);
  });

  await checkpoint('written', {
    user: { name: U.name, firstName: U.first, lastName: U.last, displayName: U.newDisplay, email: U.email,
      password: U.newPassword, oldPassword: U.password,
      attributes: { colour: [JSON.stringify('red')] }, absentAttributes: ['shoe'] },
    groups: [{ name: PARENT, description: PARENT_DESC2, children: [CHILD], users: [] },
      { name: CHILD, description: CHILD_DESC, children: [], users: [U.name] }],
  });

  // SSO sessions.
  const here = new ValidationFactors({ remote_address: '127.0.0.1' });
  const elsewhere = new ValidationFactors({ remote_address: '127.0.0.2' });
  let session = null;
  await step('session.create (201)', async () => {
    session = await crowd.session.create(U.name, U.newPassword, here);
    expectStatus('POST', '/session', 201);
    expectLocation('POST', '/session', `/rest/usermanagement/1/session/${session.token}`);
    assert.strictEqual(typeof session.token, 'string');
    assert.ok(session.token.length > 0, 'token is not empty');
    assert.ok(!isNaN(session.createdAt.getTime()), 'created-date is a date');
    assert.ok(!isNaN(session.expiresAt.getTime()), 'expiry-date is a date');
    assert.ok(session.expiresAt > session.createdAt, 'expires after creation');
    // The client asks for its default 600 s.
    assert.ok(session.expiresAt - session.createdAt <= 600 * 1000 + 1000, 'duration honoured');
  });
  const token = () => (session ? session.token : 'no-session');
  await step('session.getUser (user fields)', async () => {
    const u = await crowd.session.getUser(token());
    assert.strictEqual(u.username, U.name);
    assert.strictEqual(u.email, U.email);
    assert.strictEqual(u.firstname, U.first);
    assert.strictEqual(u.lastname, U.last);
    assert.strictEqual(u.displayname, U.newDisplay);
    assert.strictEqual(u.active, true);
  });
  await step('session.validate same remote_address', async () => {
    const s = await crowd.session.validate(token(), here);
    expectStatus('POST', `/session/${token()}`, 200);
    assert.strictEqual(s.token, token());
    assert.ok(!isNaN(s.expiresAt.getTime()), 'expiry-date is a date');
  });
  await step('session.validate other remote_address -> INVALID_SSO_TOKEN', async () => {
    await rejects(crowd.session.validate(token(), elsewhere), 'INVALID_SSO_TOKEN');
  });
  await step('session.remove (204)', async () => {
    await crowd.session.remove(token());
    expectStatus('DELETE', `/session/${token()}`, 204);
  });
  await step('session.getUser after remove -> INVALID_SSO_TOKEN', async () => {
    await rejects(crowd.session.getUser(token()), 'INVALID_SSO_TOKEN');
  });
  await step('session.create bad password -> INVALID_USER_AUTHENTICATION', async () => {
    await rejects(crowd.session.create(U.name, 'wrong', here), 'INVALID_USER_AUTHENTICATION');
    expectStatus('POST', '/session', 400);
  });
  await step('session.create inactive Bob -> INACTIVE_ACCOUNT', async () => {
    await rejects(crowd.session.create('Bob', 'Bob-pw', here), 'INACTIVE_ACCOUNT');
  });
  await step('session.create with duration, createUnvalidated, removeAll', async () => {
    const short = await crowd.session.create(U.name, U.newPassword, here, 60);
    assert.ok(short.expiresAt - short.createdAt <= 61 * 1000, `duration=60 honoured (${short.expiresAt - short.createdAt} ms)`);
    const unvalidated = await crowd.session.createUnvalidated(U.name, here);
    expectStatus('POST', '/session', 201);
    assert.strictEqual((await crowd.session.getUser(unvalidated.token)).username, U.name);
    await crowd.session.removeAll(U.name);
    expectStatus('DELETE', '/session', 204);
    await rejects(crowd.session.getUser(short.token), 'INVALID_SSO_TOKEN');
    await rejects(crowd.session.getUser(unvalidated.token), 'INVALID_SSO_TOKEN');
  });

  // Cleanup.
  await step('group.users.remove (204)', async () => {
    await crowd.group.users.remove(CHILD, U.name);
    expectStatus('DELETE', '/group/user/direct', 204);
    assert.deepStrictEqual(await crowd.group.users.list(CHILD), []);
  });
  await step('group.children.remove (204)', async () => {
    await crowd.group.children.remove(PARENT, CHILD);
    expectStatus('DELETE', '/group/child-group/direct', 204);
    assert.deepStrictEqual(await crowd.group.children.list(PARENT), []);
  });
  await step('group.remove child and parent (204)', async () => {
    await crowd.group.remove(CHILD);
    expectStatus('DELETE', '/group', 204);
    await crowd.group.remove(PARENT);
    expectStatus('DELETE', '/group', 204);
    await rejects(crowd.group.get(PARENT), 'GROUP_NOT_FOUND');
    await rejects(crowd.group.get(CHILD), 'GROUP_NOT_FOUND');
  });
  await step('user.remove (204)', async () => {
    await crowd.user.remove(U.name);
    expectStatus('DELETE', '/user', 204);
    await rejects(crowd.user.get(U.name), 'USER_NOT_FOUND');
  });
  await step('user.remove again -> USER_NOT_FOUND', async () => {
    await rejects(crowd.user.remove(U.name), 'USER_NOT_FOUND');
    expectStatus('DELETE', '/user', 404);
  });

  // Other application credentials.
  await step('wrong application password -> APPLICATION_ACCESS_DENIED', async () => {
    const bad = client(config.app, config.password + '-wrong');
    await rejects(bad.config.cookie(), 'APPLICATION_ACCESS_DENIED');
    expectStatus('GET', '/config/cookie', 401);
  });
  if (config.readonlyApp) {
    await step('read-only application user.create -> APPLICATION_PERMISSION_DENIED', async () => {
      const ro = client(config.readonlyApp.name, config.readonlyApp.password);
      assert.strictEqual((await ro.user.get('alice')).username, 'alice');
      await rejects(ro.user.create(new User('X', 'Y', 'X Y', 'x@example.org', 'npm2-ro', 'pw-pw-pw')), 'APPLICATION_PERMISSION_DENIED');
      expectStatus('POST', '/user', 403);
    });
  }
  if (config.deniedApp) {
    await step('application refused from this address -> APPLICATION_PERMISSION_DENIED', async () => {
      const far = client(config.deniedApp.name, config.deniedApp.password);
      await rejects(far.config.cookie(), 'APPLICATION_PERMISSION_DENIED');
      expectStatus('GET', '/config/cookie', 403);
    });
  }

  // Transport conventions over every exchange above, the refused ones
  // included (crowd-rest.md §1 T2, T6, T7).
  await step('transport: version header on every response, JSON Content-Type', () =>
    checkTransport(false, (e) => e.path.split('?')[0].endsWith('/group/membership')));
}

main().then(finish, (err) => {
  fatal(err);
  finish();
});
