use hub_derive::JsonError;

#[derive(JsonError)]
#[json(key = "message")]
pub enum ApiError {
    #[json(status = 400)]
    BadRequest(String),
}

fn main() {}
