use hub_derive::JsonError;

#[derive(JsonError)]
#[json(key = message)]
pub enum ApiError {
    #[json(status = BAD_REQUEST)]
    BadRequest(String),
}

fn main() {}
