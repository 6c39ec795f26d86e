use hub_derive::JsonError;

pub struct Failure;

#[derive(JsonError)]
#[json(key = "message")]
pub enum ApiError {
    #[json(status = BAD_REQUEST)]
    BadRequest(String),
    #[json(failure)]
    Failed(Failure, String),
}

fn main() {}
