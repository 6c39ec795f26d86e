use hub_derive::JsonError;

#[derive(JsonError)]
#[json(key = "message")]
pub enum ApiError {
    #[json(code = BAD_REQUEST)]
    BadRequest(String),
}

fn main() {}
