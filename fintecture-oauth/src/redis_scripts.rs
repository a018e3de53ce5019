//! The Lua scripts of the Redis store: each one round trip, each refusing what would lose a
//! newer token. Each is hashed once (`EVALSHA` after the first call).

use redis::Script;
use std::sync::LazyLock;

/// Compare-and-swap, setting `outcome`: 0 written, 1 stale version, 2 stale fence.
/// `KEYS[1]` record. `ARGV`: expected version, new version, fence, data, the token's expiry
/// in ms since the epoch (no secret: what lets the lease script hand out a fresh record
/// without a lease). A record written removes the expiry a removal left on the fence it
/// keeps.
macro_rules! swap {
    () => {
        r"
local stored = redis.call('HMGET', KEYS[1], 'version', 'fence')
local outcome = 0
if stored[2] and tonumber(ARGV[3]) < tonumber(stored[2]) then
  outcome = 2
elseif (stored[1] or '0') ~= ARGV[1] then
  outcome = 1
else
  redis.call('HSET', KEYS[1], 'version', ARGV[2], 'fence', ARGV[3], 'data', ARGV[4], 'expires', ARGV[5])
  redis.call('PERSIST', KEYS[1])
end
"
    };
}

/// `KEYS[1]` record. `ARGV`: expected version, new version, fence, data, expiry. The
/// outcome.
const SWAP_LUA: &str = concat!(swap!(), "return outcome\n");

/// The swap, then releases the lease `KEYS[2]` if `ARGV[6]` still owns it, whatever the
/// swap did. The outcome.
const SWAP_AND_UNLOCK_LUA: &str = concat!(
    swap!(),
    r"
if redis.call('GET', KEYS[2]) == ARGV[6] then redis.call('DEL', KEYS[2]) end
return outcome
"
);

/// `KEYS[1]` record, `KEYS[2]` lock, `KEYS[3]` fence counter. `ARGV`: owner, lease in ms,
/// a version and a time in ms. Reads the record and, unless it is newer than that version
/// and expires after that time, takes the lease if it is free: `{fence or 0, version,
/// data}`.
///
/// A fence never goes backwards, even when the counter was lost (a failover to a replica
/// that had not received the last `INCR`s, a restart without persistence): it is the
/// largest of the counter plus one, the stored record's fence plus one, and the server's
/// clock in milliseconds. The clock assumes that Redis nodes' clocks agree to within the
/// time a failover takes, as NTP keeps them.
const LOCK_AND_LOAD_LUA: &str = r"
local stored = redis.call('HMGET', KEYS[1], 'version', 'data', 'expires', 'fence')
local fence = 0
local fresh = stored[1] and tonumber(stored[1]) > tonumber(ARGV[3])
  and tonumber(stored[3] or '0') > tonumber(ARGV[4])
if not fresh and redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  fence = redis.call('INCR', KEYS[3])
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local floor = math.max(tonumber(stored[4] or '0') + 1, now)
  if floor > fence then
    fence = floor
    redis.call('SET', KEYS[3], string.format('%.0f', fence))
  end
end
return {fence, stored[1], stored[2]}
";

/// `KEYS[1]` lock. `ARGV`: owner. Deletes the lock only if this owner still holds it.
const UNLOCK_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// `KEYS[1]` lock. `ARGV`: owner, lease in ms. 1 when the owner still held it and now
/// holds it that much longer, 0 otherwise.
const EXTEND_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// `KEYS[1]` record. `ARGV`: version, or '' for any. 1 removed, 0 not. The record's fence
/// stays (for a day), so that a writer holding an older lease cannot bring the grant back.
const REMOVE_LUA: &str = r"
if redis.call('HEXISTS', KEYS[1], 'data') == 0 then return 0 end
if ARGV[1] == '' or redis.call('HGET', KEYS[1], 'version') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'version', 'data')
  redis.call('PEXPIRE', KEYS[1], 86400000)
  return 1
end
return 0
";

/// `KEYS[1]` state. `ARGV`: lifetime in ms. Keeps a started consent's state digest.
const KEEP_STATE_LUA: &str = r"
return redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
";

/// `KEYS[1]` state. 1 when it was kept (and is now gone), 0 otherwise: each state once.
const TAKE_STATE_LUA: &str = r"
return redis.call('DEL', KEYS[1])
";

pub(crate) static SWAP: LazyLock<Script> = LazyLock::new(|| Script::new(SWAP_LUA));
pub(crate) static SWAP_AND_UNLOCK: LazyLock<Script> =
    LazyLock::new(|| Script::new(SWAP_AND_UNLOCK_LUA));
pub(crate) static LOCK_AND_LOAD: LazyLock<Script> =
    LazyLock::new(|| Script::new(LOCK_AND_LOAD_LUA));
pub(crate) static UNLOCK: LazyLock<Script> = LazyLock::new(|| Script::new(UNLOCK_LUA));
pub(crate) static EXTEND: LazyLock<Script> = LazyLock::new(|| Script::new(EXTEND_LUA));
pub(crate) static REMOVE: LazyLock<Script> = LazyLock::new(|| Script::new(REMOVE_LUA));
pub(crate) static KEEP_STATE: LazyLock<Script> = LazyLock::new(|| Script::new(KEEP_STATE_LUA));
pub(crate) static TAKE_STATE: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE_STATE_LUA));
