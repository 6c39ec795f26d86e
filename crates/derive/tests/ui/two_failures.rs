use hub_derive::JsonError;

pub struct Failure;

#[derive(JsonError)]
#[json(key = "message")]
pub enum ApiError {
    #[json(failure)]
    Failed(Failure),
    #[json(failure)]
    AlsoFailed(Failure),
}

fn main() {}
