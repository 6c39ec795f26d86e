-- POST /upload_image: a multipart body with the JPEG in BENCH_UPLOAD_FILE (run.sh makes
-- it with hub-bench imagegen: the service decodes and re-encodes what it stores). Names
-- cycle through BENCH_UPLOAD_KEYS keys per wrk thread (run.sh passes twice the
-- connections), so no two uploads in flight write the same key: moto (the S3 test
-- server) fails concurrent writes of one key, which MinIO and S3 serialise. Writing a name
-- again is a replacement: run.sh starts images with UPLOAD_ANONYMOUS_REPLACE=true.
local file = assert(io.open(assert(os.getenv("BENCH_UPLOAD_FILE"), "BENCH_UPLOAD_FILE"), "rb"))
local image = file:read("*a")
file:close()
local keys = tonumber(os.getenv("BENCH_UPLOAD_KEYS") or "16")
local boundary = "hubbenchboundary7c1d"
local head = "--" .. boundary .. "\r\n"
  .. 'Content-Disposition: form-data; name="file"; filename="bench-'
local tail = '.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
  .. image .. "\r\n--" .. boundary .. "--\r\n"
local headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }

local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local n = 0
function request()
  n = n + 1
  return wrk.format("POST", nil, headers, head .. (tid or 0) .. "-" .. (n % keys) .. tail)
end
