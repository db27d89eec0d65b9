-- GET requests rotating over many ids, one request string per id built once.
-- wrk -s bench/lua/read.lua http://127.0.0.1:PORT -- <ids file> <bearer token> <path prefix>
-- Each thread starts at a different place in the list so the threads do not read in lockstep.

local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

local reqs, n, i = {}, 0, 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  local headers = { ["Authorization"] = "Bearer " .. args[2], ["Accept"] = "application/json" }
  for line in file:lines() do
    if line ~= "" then
      n = n + 1
      reqs[n] = wrk.format("GET", args[3] .. line, headers)
    end
  end
  file:close()
  assert(n > 0, "no ids in " .. args[1])
  i = ((tid or 0) * 7919) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end
