// Initiates the replica set of compose/docker-compose.yml and waits until it
// can take writes. Run by the mongo-init service with mongosh, connected
// directly to mongodb1; safe to run on every `docker compose up`. A set that
// is already initiated keeps its configuration: after a change to the
// members below, wipe the volumes (make down DOWN_FLAGS=-v).
//
// The member host names must match what everything else uses:
// debezium/connector.json and the services' MONGODB_URI
// (mongodb1:27017, mongodb2:27018, set "local-mongodb-replica-set").

// One voting member, so no failover (see the comment on mongodb1 in
// docker-compose.yml): with two voters neither could be primary while the
// other is down. mongodb2 never votes and never becomes primary (a member
// without a vote must have priority 0); it keeps a copy of the data. So
// mongodb1 is the primary whenever the set has one, and host tools can rely
// on mongodb://localhost:27017/?directConnection=true reaching it.
const replicaSet = {
  _id: "local-mongodb-replica-set",
  members: [
    { _id: 0, host: "mongodb1:27017", votes: 1, priority: 1 },
    { _id: 1, host: "mongodb2:27018", votes: 0, priority: 0 },
  ],
};

const timeoutMs = 120 * 1000;
const PRIMARY = 1;
const SECONDARY = 2;

// currentStatus returns rs.status(), or null when the set is not initiated.
function currentStatus() {
  try {
    return rs.status();
  } catch (e) {
    if (e.codeName === "NotYetInitialized" || e.code === 94) {
      return null;
    }
    throw e;
  }
}

function describe(status) {
  return status.members.map((m) => `${m.name}=${m.stateStr}`).join(", ");
}

function main() {
  if (currentStatus() === null) {
    print(`mongo-init: initiating replica set ${replicaSet._id}`);
    const res = rs.initiate(replicaSet);
    if (res.ok !== 1) {
      print(`mongo-init: rs.initiate failed: ${JSON.stringify(res)}`);
      return 1;
    }
  } else {
    print(`mongo-init: replica set ${replicaSet._id} already initiated`);
  }
  return waitReady();
}

// waitReady waits until mongodb1 is primary and every member is primary or
// secondary. Writes need only mongodb1 ("majority" is a majority of the
// voting members, and mongodb1 is the only one); waiting for mongodb2 too
// makes `make up` end with the whole set in place.
function waitReady() {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = currentStatus();
    const ready =
      status !== null &&
      db.hello().isWritablePrimary === true &&
      status.members.every((m) => m.state === PRIMARY || m.state === SECONDARY);
    if (ready) {
      print(`mongo-init: ready (${describe(status)})`);
      return 0;
    }
    if (Date.now() > deadline) {
      print(
        `mongo-init: replica set not ready after ${timeoutMs / 1000}s` +
          (status === null ? "" : ` (${describe(status)})`),
      );
      return 1;
    }
    sleep(1000);
  }
}

let exitCode = 1;
try {
  exitCode = main();
} catch (e) {
  print(`mongo-init: ${e}`);
  // A member whose volume still holds an older replica-set configuration
  // makes rs.initiate fail. The stack's data is disposable: wipe the volumes.
  print("mongo-init: if the volumes hold an old configuration, run: make down DOWN_FLAGS=-v");
}
quit(exitCode);
