-- wrk script: POST a WeChat SCAN event, a different (user, CreateTime) on every request so the
-- dedup layer never answers from its cache. Users and site tokens come from bench/scan_users.txt
-- ("openid token" per line), written by bench/callback.py; each request takes its own signed
-- query (a unique nonce) from bench/scan_queries.txt: the callback refuses a nonce seen before
-- with another body. Each thread uses its own half of the queries.
-- WRK_PACE_MS > 0: each connection waits that long after a reply before its next request,
-- for the latency at an offered load below saturation (50 connections, 100 ms: <= 500/s).
local pace = tonumber(os.getenv("WRK_PACE_MS") or "0")
if pace > 0 then
  delay = function() return pace end
end

local users = {}
local queries = {}
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id or 0
  -- A fresh range per run (warm-up and measurement are separate wrk runs) so no request of
  -- this run repeats one of an earlier run still in the dedup cache.
  math.randomseed(os.time() + thread_id)
  counter = math.random(0, 1000) * 100000
  for line in io.lines("bench/scan_queries.txt") do
    table.insert(queries, line)
  end
  for line in io.lines("bench/scan_users.txt") do
    local openid, token = line:match("(%S+)%s+(%S+)")
    table.insert(users, {openid, token})
  end
end

request = function()
  counter = counter + 1
  local user = users[(counter % #users) + 1]
  -- CreateTime unique per thread and request: thread id in the high digits.
  local create_time = 1000000000 + thread_id * 1000000000 + counter
  local body = "<xml><ToUserName><![CDATA[gh_ancha]]></ToUserName>"
    .. "<FromUserName><![CDATA[" .. user[1] .. "]]></FromUserName>"
    .. "<CreateTime>" .. create_time .. "</CreateTime>"
    .. "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event>"
    .. "<EventKey><![CDATA[site:" .. user[2] .. "]]></EventKey>"
    .. "<Ticket><![CDATA[bench]]></Ticket></xml>"
  local half = math.floor(#queries / 2)
  local query = queries[thread_id * half + ((counter - 1) % half) + 1]
  return wrk.format("POST", "/wechat/callback?" .. query, {["Content-Type"] = "text/xml"}, body)
end
