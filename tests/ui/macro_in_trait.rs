use fintecture_oauth::{Error, api};

macro_rules! method {
    () => {
        fn extra(&self);
    };
}

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), Error>;
    method!();
}

fn main() {}
