#include "gateway/app.h"

or_worker_ctx *or_worker_of(or_http_req *req)
{
    return or_http_worker_data(or_http_req_worker(req));
}
