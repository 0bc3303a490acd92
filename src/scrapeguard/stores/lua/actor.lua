-- ScrapeGuard: all state of one actor key, updated atomically in one call.
-- Same semantics as stores/memory.py (the conformance suite runs against both).
--
-- Every key of one call shares the actor's hash tag ({ip:192.0.2.7}), so the
-- script works on Redis Cluster. Times are event times (ARGV); Redis TTLs only
-- collect garbage, expiry decisions compare stored event times with `now`.
--
-- KEYS[1] penalty hash   KEYS[2] strikes hash   KEYS[3] blocks hash   KEYS[4] pardon (its end)
-- KEYS[5..] one sorted set per count request (member -> last time seen), or one list per
--           history request ("time|value" entries, oldest first)
--
-- ARGV[1]  mode: "observe", "penalize", "restore", or an operator's "lift", "hold", "pardon",
--          "unpardon"
-- ARGV[2]  now
-- ARGV[3]  escalation, space-separated: throttle_seconds escalate_after strike_window
--          block_seconds block_growth block_max_seconds offender_memory
-- ARGV[4]  escalation reason: detector TAB score TAB detail
-- ARGV[5]  actor key (named in the escalation reason)
-- ARGV[6]  decision id
-- observe:  ARGV[7] check penalty (1/0)  ARGV[8] max members per set  ARGV[9] check pardon (1/0)
--           then per request: member, n windows, (seconds, limit) * n
--           or, for a history request: value, -1, keep, seconds
-- penalize: ARGV[7] action  ARGV[8] reasons (JSON array)
-- lift:     (none) removes the penalty and the strikes; returns {penalty in force or false}
-- hold:     ARGV[7] action  ARGV[8] until  ARGV[9] reasons; returns {penalty}
-- pardon:   ARGV[7] until   unpardon: (none), returns 1 if a pardon was in force
--
-- restore:  per request: member, previous score or "" (undoes counts of a refused event);
--           for a history: the entry added, "\0h", n, then the n entries its trim dropped,
--           oldest first (removes the entry, puts the dropped ones back at the head)
--
-- observe returns {penalty or false, escalated, pardoned (1/0), per request: admitted, seen_before, previous
-- score or "", counts...; or per history request: {entries before this event}, the entry added,
-- {entries the trim to `keep` dropped, oldest first}}
-- penalize returns {penalty, escalated}; a penalty is {action, until, id, reasons JSON}.

local now = tonumber(ARGV[2])
local config = {}
for word in string.gmatch(ARGV[3], "%S+") do
  table.insert(config, tonumber(word))
end
local throttle_seconds, escalate_after, strike_window = config[1], config[2], config[3]
local block_seconds, block_growth, block_max, offender_memory = config[4], config[5], config[6], config[7]
-- the escalation reason: detector, score, evidence (JSON text, no raw tab) and detail, tab-separated
local reason_detector, reason_score, reason_evidence, reason_detail =
  string.match(ARGV[4], "^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
local escalation_reason = cjson.encode({reason_detector, ARGV[5], tonumber(reason_score), reason_detail,
                                        reason_evidence})
local decision_id = ARGV[6]
local severity = {throttle = 1, challenge = 2, block = 3}

local function fmt(x)
  return string.format("%.17g", x)
end

local function ttl(seconds)
  return math.max(1, math.ceil(seconds) + 1)
end

-- a counter that expires `window` seconds (event time) after its first increment
local function incr(key, window)
  local state = redis.call("HMGET", key, "n", "exp")
  local n, exp = tonumber(state[1]), tonumber(state[2])
  if n == nil or exp == nil or exp <= now then
    n, exp = 0, now + window
    redis.call("HSET", key, "exp", fmt(exp))
    redis.call("EXPIRE", key, ttl(window))
  end
  n = n + 1
  redis.call("HSET", key, "n", n)
  return n
end

local function read_penalty()
  local p = redis.call("HMGET", KEYS[1], "action", "until", "id", "reasons")
  if not p[1] or tonumber(p[2]) <= now then
    return nil
  end
  return {p[1], p[2], p[3], p[4]}
end

local function write_penalty(action, until_time, id, reasons)
  redis.call("DEL", KEYS[1])
  redis.call("HSET", KEYS[1], "action", action, "until", fmt(until_time), "id", id, "reasons", reasons)
  redis.call("EXPIRE", KEYS[1], ttl(until_time - now))
  return {action, fmt(until_time), id, reasons}
end

local function stricter(action_a, until_a, action_b, until_b)
  local sa, sb = severity[action_a], severity[action_b]
  if sa ~= sb then
    return sa > sb
  end
  return until_a > until_b
end

local function block_until()
  local earlier = incr(KEYS[3], offender_memory) - 1
  return now + math.min(block_max, block_seconds * block_growth ^ earlier)
end

local function escalate(reasons)
  local appended
  if reasons == "[]" then
    appended = "[" .. escalation_reason .. "]"
  else
    appended = string.sub(reasons, 1, -2) .. "," .. escalation_reason .. "]"
  end
  return write_penalty("block", block_until(), decision_id, appended)
end

local mode = ARGV[1]

local function pardoned()
  local until_time = tonumber(redis.call("GET", KEYS[4]))
  return until_time ~= nil and until_time > now
end

if mode == "lift" then
  local in_force = read_penalty()
  redis.call("DEL", KEYS[1], KEYS[2])
  if in_force then
    return {in_force}
  end
  return {false}
end

if mode == "hold" then
  return {write_penalty(ARGV[7], tonumber(ARGV[8]), decision_id, ARGV[9])}
end

if mode == "pardon" then
  local until_time = tonumber(ARGV[7])
  redis.call("SET", KEYS[4], fmt(until_time))
  redis.call("EXPIRE", KEYS[4], ttl(until_time - now))
  return 1
end

if mode == "unpardon" then
  local was = pardoned()
  redis.call("DEL", KEYS[4])
  if was then
    return 1
  end
  return 0
end

if mode == "restore" then
  local arg = 7
  for k = 5, #KEYS do
    local member, previous = ARGV[arg], ARGV[arg + 1]
    arg = arg + 2
    if previous == "\0h" then
      local n = tonumber(ARGV[arg])
      arg = arg + 1
      -- put the dropped entries back first (newest of them first, so they end oldest first):
      -- the list never empties, so it keeps its TTL
      for i = arg + n - 1, arg, -1 do
        redis.call("LPUSH", KEYS[k], ARGV[i])
      end
      arg = arg + n
      redis.call("LREM", KEYS[k], -1, member)
    elseif previous == "" then
      redis.call("ZREM", KEYS[k], member)
    else
      redis.call("ZADD", KEYS[k], previous, member)
    end
  end
  return 1
end

if mode == "penalize" then
  local action, reasons = ARGV[7], ARGV[8]
  local in_force = read_penalty()
  if in_force and in_force[1] == "block" then
    return {in_force, 0}  -- a block in force: no strike, no longer block
  end
  local strikes = incr(KEYS[2], strike_window)
  if action == "throttle" and strikes >= escalate_after then
    return {escalate(reasons), 1}
  end
  local until_time
  if action == "block" then
    until_time = block_until()
  else
    until_time = now + throttle_seconds
  end
  local current = read_penalty()
  if current and not stricter(action, until_time, current[1], tonumber(current[2])) then
    return {current, 0}
  end
  return {write_penalty(action, until_time, decision_id, reasons), 0}
end

-- observe
if ARGV[9] == "1" and pardoned() then
  return {false, 0, 1}  -- pardoned by an operator: no strike, nothing counted
end
local out = {false, 0, 0}
if ARGV[7] == "1" then
  local penalty = read_penalty()
  if penalty then
    local strikes = incr(KEYS[2], strike_window)
    if penalty[1] == "throttle" and strikes >= escalate_after then
      return {escalate(penalty[4]), 1, 0}
    end
    return {penalty, 0, 0}
  end
end

local max_members = tonumber(ARGV[8])
local arg = 10
local function record(list, value, keep, seconds)
  local horizon = now - seconds
  local before = {}
  for _, entry in ipairs(redis.call("LRANGE", list, 0, -1)) do
    local t = tonumber(string.match(entry, "^([^|]*)|"))
    if t ~= nil and t > horizon then
      table.insert(before, entry)
    end
  end
  local added = fmt(now) .. "|" .. value
  local length = redis.call("RPUSH", list, added)
  local dropped = {}
  if length > keep then
    -- returned so that a refused event can put them back (restore)
    dropped = redis.call("LRANGE", list, 0, length - keep - 1)
    redis.call("LTRIM", list, -keep, -1)
  end
  redis.call("EXPIRE", list, ttl(seconds))
  table.insert(out, before)
  table.insert(out, added)
  table.insert(out, dropped)
end

for k = 5, #KEYS do
  local set = KEYS[k]
  local member = ARGV[arg]
  local n = tonumber(ARGV[arg + 1])
  arg = arg + 2
  if n == -1 then
    record(set, member, tonumber(ARGV[arg]), tonumber(ARGV[arg + 1]))
    arg = arg + 2
  else
    local score = tonumber(redis.call("ZSCORE", set, member))
    local admitted = 1
    local seen_before = 0
    local counts = {}
    local windows = {}
    local longest = 0
    for w = 1, n do
      local seconds, limit = tonumber(ARGV[arg]), tonumber(ARGV[arg + 1])
      arg = arg + 2
      windows[w] = seconds
      if seconds > longest then
        longest = seconds
      end
      local horizon = now - seconds
      local count = redis.call("ZCOUNT", set, "(" .. fmt(horizon), "+inf")
      local inside = score ~= nil and score > horizon
      if w == 1 and inside then
        seen_before = 1
      end
      if not inside and count >= limit then
        admitted = 0
      end
      counts[w] = count
    end
    if admitted == 1 then
      redis.call("ZADD", set, fmt(now), member)
      redis.call("ZREMRANGEBYSCORE", set, "-inf", fmt(now - longest))
      redis.call("EXPIRE", set, ttl(longest))
      local trimmed = redis.call("ZREMRANGEBYRANK", set, 0, -(max_members + 1))
      for w = 1, n do
        if trimmed > 0 then
          counts[w] = redis.call("ZCOUNT", set, "(" .. fmt(now - windows[w]), "+inf")
        elseif score == nil or score <= now - windows[w] then
          counts[w] = counts[w] + 1  -- the member is new to this window
        end
      end
    end
    table.insert(out, admitted)
    table.insert(out, seen_before)
    if admitted == 1 and score ~= nil then
      table.insert(out, fmt(score))
    else
      table.insert(out, "")
    end
    for w = 1, n do
      table.insert(out, counts[w])
    end
  end
end
return out
