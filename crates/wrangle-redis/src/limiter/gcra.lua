-- GCRA on the server's clock (wrangle-redis RedisLimiter).
-- KEYS[1]: the key's state, the theoretical arrival time (TAT) in microseconds.
-- ARGV[1]: microseconds between two admissions at the sustained rate.
-- ARGV[2]: the burst window, burst * interval, in microseconds.
-- ARGV[3]: cost of this request (n).
-- ARGV[4]: 'c' to check (all or nothing), 'r' to reserve (always take, report the wait).
-- Returns {admitted (0/1), microseconds to wait}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new_tat = tat + n * interval
local wait = new_tat - window - now
if wait > 0 and ARGV[4] == 'c' then
  return {0, wait}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
if wait < 0 then
  wait = 0
end
return {1, wait}
