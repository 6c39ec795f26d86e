use hub_derive::JsonError;

#[derive(JsonError)]
#[json(key = "message", status = BAD_REQUEST)]
pub enum ApiError {
    #[json(status = BAD_REQUEST)]
    BadRequest(String),
}

fn main() {}
