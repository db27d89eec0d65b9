-- POST /v1/customers with a unique, valid individual per request.
-- wrk -s bench/lua/register.lua http://127.0.0.1:PORT -- <bearer token> <run digit 0-9>
-- Resident ID (GB 11643): a real Jiangsu area code (GB/T 2260) picked by the run digit and the
-- thread (AREAS[run * 10 + thread % 10]), a real birth date from 1950 on (days 1-28 of every month),
-- a 3-digit serial, then the check character: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, sum mod 11
-- indexes "10X98765432". Area codes never meet the seeded customers' (110105), and the run digit
-- keeps the warm-up's and the measured run's numbers apart.
-- done() prints one line "BENCH_STATUS <code>=<count> ..." that bench/run.py parses.

local WEIGHTS = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 }
local AREAS = {
  "320101", "320102", "320104", "320105", "320106", "320111", "320113", "320114", "320115", "320116",
  "320117", "320118", "320201", "320205", "320206", "320211", "320213", "320214", "320281", "320282",
  "320301", "320302", "320303", "320305", "320311", "320312", "320321", "320322", "320324", "320381",
  "320382", "320401", "320402", "320404", "320411", "320412", "320413", "320481", "320501", "320505",
  "320506", "320507", "320508", "320509", "320581", "320582", "320583", "320585", "320601", "320612",
  "320613", "320614", "320623", "320681", "320682", "320685", "320701", "320703", "320706", "320707",
  "320722", "320723", "320724", "320801", "320803", "320804", "320812", "320813", "320826", "320830",
  "320831", "320901", "320902", "320903", "320904", "320921", "320922", "320923", "320924", "320925",
  "320981", "321001", "321002", "321003", "321012", "321023", "321081", "321084", "321101", "321102",
  "321111", "321112", "321181", "321182", "321183", "321201", "321202", "321203", "321204", "321281",
}
local CHECK = "10X98765432"
local threads, next_tid = {}, 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

local headers, area, seq

function init(args)
  headers = {
    ["Authorization"] = "Bearer " .. args[1],
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }
  area = AREAS[(tonumber(args[2]) % 10) * 10 + (tid or 0) % 10 + 1]
  seq = 0
  counts = {}
end

local function check_char(first17)
  local sum = 0
  for k = 1, 17 do
    sum = sum + (string.byte(first17, k) - 48) * WEIGHTS[k]
  end
  local idx = sum % 11 + 1
  return string.sub(CHECK, idx, idx)
end

local function resident_id(n)
  local serial = n % 1000
  local d = math.floor(n / 1000)
  local day = d % 28 + 1
  local month = math.floor(d / 28) % 12 + 1
  local year = 1950 + math.floor(d / 336)
  local first17 = string.format("%s%04d%02d%02d%03d", area, year, month, day, serial)
  return first17 .. check_char(first17)
end

function request()
  seq = seq + 1
  local body = string.format(
    '{"type":"individual","name":"Bench Registrant %d","resident_id":"%s","phone":"138%08d",'
      .. '"email":"r%d@example.cn","region_type":"rural","province":"Jiangsu","city":"Nanjing",'
      .. '"branch_code":"BJ0001"}',
    seq, resident_id(seq), seq % 100000000, seq)
  return wrk.format("POST", "/v1/customers", headers, body)
end

function response(status, _headers, _body)
  counts[status] = (counts[status] or 0) + 1
end

function done(_summary, _latency, _requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts") or {}
    for status, count in pairs(c) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, string.format("%d=%d", status, count))
  end
  table.sort(parts)
  io.write("BENCH_STATUS " .. table.concat(parts, " ") .. "\n")
end
