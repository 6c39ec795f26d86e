use hub_derive::JsonError;

pub struct Failure;

#[derive(JsonError)]
#[json(key = "message")]
pub enum ApiError {
    #[json(status = BAD_REQUEST)]
    #[json(failure)]
    Failed(Failure),
}

fn main() {}
